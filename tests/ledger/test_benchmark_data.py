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
