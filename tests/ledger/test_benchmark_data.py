"""The benchmark data generator writes a history that keeps the ledger's invariants."""

import io

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from loyalty.ledger.models import LedgerEntry, PointsAccount, PointsLot, Transaction
from loyalty.ledger.services import ledger_reconcile
from loyalty.tiers.models import TierAssignment
from members.models import Member

pytestmark = pytest.mark.django_db


def test_generated_history_reconciles_and_has_the_promised_shape(programme):
    out = io.StringIO()
    call_command(
        "generate_benchmark_data",
        "--members",
        "400",
        "--transactions",
        "4000",
        "--seed",
        "7",
        stdout=out,
    )

    assert "400 members, 4000 purchases" in out.getvalue()
    assert Member.objects.count() == 400
    assert Transaction.objects.filter(kind="purchase").count() == 4000
    assert Transaction.objects.filter(kind="return").exists()
    assert set(Transaction.objects.values_list("channel", flat=True)) == {"store", "web", "app"}
    assert Transaction.objects.values("store").distinct().count() > 10
    assert LedgerEntry.objects.filter(kind="redeem").exists()
    assert ledger_reconcile() == []
    # long tail: the top 10 % of buyers make far more than 10 % of the purchases
    per_member = sorted(
        Transaction.objects.filter(kind="purchase")
        .values("member")
        .annotate(n=Count("id"))
        .values_list("n", flat=True),
        reverse=True,
    )
    assert sum(per_member[: len(per_member) // 10]) > 0.3 * 4000
    # every member has exactly one current tier row; the balance is what the lots hold
    assert TierAssignment.objects.filter(valid_to__isnull=True).count() == 400
    assert (
        PointsAccount.objects.aggregate(b=Sum("balance"))["b"]
        == PointsLot.objects.aggregate(r=Sum("remaining"))["r"]
    )


def test_a_second_run_adds_members_without_clashes(programme):
    call_command(
        "generate_benchmark_data", "--members", "50", "--transactions", "200", stdout=io.StringIO()
    )
    call_command(
        "generate_benchmark_data", "--members", "50", "--transactions", "200", stdout=io.StringIO()
    )

    assert Member.objects.count() == 100
    assert ledger_reconcile() == []


SCHEMA = """
    SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace
    UNION ALL
    SELECT indrelid::regclass::text, indexrelid::regclass::text, pg_get_indexdef(indexrelid)
    FROM pg_index JOIN pg_class ON pg_class.oid = indrelid
    WHERE relnamespace = 'public'::regnamespace
"""


@pytest.mark.postgres
def test_a_load_into_empty_tables_builds_every_index_and_constraint_again(programme):
    # the generator drops the secondary indexes and the unique/foreign-key constraints of
    # empty tables and builds them after the load (loyalty.core.bulkwrite.deferred_indexes)
    from django.db import IntegrityError, connection, transaction

    with connection.cursor() as cursor:
        cursor.execute(SCHEMA)
        before = sorted(cursor.fetchall())
    call_command(
        "generate_benchmark_data", "--members", "60", "--transactions", "300", stdout=io.StringIO()
    )
    with connection.cursor() as cursor:
        cursor.execute(SCHEMA)
        after = sorted(cursor.fetchall())
    assert after == before
    assert any(table == "members_member" for table, *_ in after)
    member = Member.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():  # the unique card number holds
        Member.objects.create(member_number=member.member_number, first_name="Copy")
