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


def _totals() -> dict:
    from rewards.models import Redemption

    return {
        "members": Member.objects.count(),
        "purchases": Transaction.objects.filter(kind="purchase").count(),
        "returns": Transaction.objects.filter(kind="return").count(),
        "entries": LedgerEntry.objects.count(),
        "points": LedgerEntry.objects.aggregate(s=Sum("amount"))["s"],
        "earned": LedgerEntry.objects.filter(amount__gt=0).aggregate(s=Sum("amount"))["s"],
        "lots": PointsLot.objects.count(),
        "lot_points": PointsLot.objects.aggregate(s=Sum("remaining"))["s"],
        "redemptions": Redemption.objects.count(),
        "tier_rows": TierAssignment.objects.count(),
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_write_what_one_does_with_the_same_seed(programme, monkeypatch):
    # small chunks, so that 2 000 members make 4 chunks for the workers to share
    from django.db import connection

    from loyalty.bench import benchdata

    monkeypatch.setattr(benchdata, "CHUNK", 500)
    args = ["--members", "2000", "--transactions", "12000", "--seed", "3"]

    def empty_them() -> None:  # the generator's tables, so that it defers their indexes again
        tables = ", ".join(model._meta.db_table for model in benchdata.Generator._tables(None))
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")

    out = io.StringIO()
    call_command("generate_benchmark_data", *args, "--jobs", "1", stdout=out)
    one = _totals()
    assert ledger_reconcile() == []
    empty_them()
    with connection.cursor() as cursor:
        cursor.execute(SCHEMA)
        schema = sorted(cursor.fetchall())
    call_command("generate_benchmark_data", *args, "--jobs", "2", stdout=out)
    two = _totals()
    with connection.cursor() as cursor:  # rebuilt on two connections at once
        cursor.execute(SCHEMA)
        assert sorted(cursor.fetchall()) == schema

    assert one["members"] == 2000 and one["purchases"] == 12000 and one["redemptions"] > 0
    assert two == one
    assert ledger_reconcile() == []
    lines = out.getvalue().splitlines()
    assert lines[0].split(" in ")[0] == lines[1].split(" in ")[0]  # the command's own counts
