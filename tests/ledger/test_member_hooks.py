"""The ledger's part in merging, erasing and exporting a member."""

import pytest

from loyalty.ledger.models import LedgerEntry, PointsAccount
from loyalty.ledger.services import ledger_reconcile
from members.services import member_erase, member_merge, member_privacy_export
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


def test_erase_keeps_ledger_amounts_and_transactions(programme, member):
    earn(member, "30")
    earn(member, "12")
    before = list(LedgerEntry.objects.order_by("pk").values_list("amount", "balance_after"))

    member_erase(member=member)

    # the history stays; the live points are forfeited by one more entry (issue 16 item 13)
    after = list(LedgerEntry.objects.order_by("pk").values_list("amount", "balance_after"))
    assert after == [*before, (-42, 0)]
    assert PointsAccount.objects.get(member=member).balance == 0
    assert member.transactions.count() == 2
    assert ledger_reconcile() == []


def test_merge_moves_points_to_the_survivor(programme, superuser):
    survivor, duplicate = MemberFactory(), MemberFactory()
    earn(survivor, "10")
    earn(duplicate, "25")

    member_merge(source=duplicate, target=survivor, actor=superuser)

    assert PointsAccount.objects.get(member=duplicate).balance == 0
    assert PointsAccount.objects.get(member=survivor).balance == 35
    assert ledger_reconcile() == []


def test_privacy_export_has_the_points(programme, member):
    earn(member, "30")

    data = member_privacy_export(member=member)

    assert data["points"]["balance"] == 30
    assert data["points"]["transactions"][0]["amount"] == "30.00"


def test_merge_keeps_pending_points_pending_and_each_lot_expiry(programme, superuser):
    from datetime import timedelta

    from django.utils import timezone

    from loyalty.ledger.models import PointsLot
    from loyalty.ledger.selectors import account_balance
    from loyalty.ledger.services import points_earn

    survivor, duplicate = MemberFactory(), MemberFactory()
    now = timezone.now()
    points_earn(member=duplicate, points=7, idempotency_key="old", occurred_at=now - timedelta(30))
    points_earn(member=duplicate, points=5, idempotency_key="pending", pending=True)
    programme.pending_days = 14
    programme.save()
    points_earn(member=duplicate, points=3, idempotency_key="pending2", pending=True)
    expiries = sorted(
        (lot.available_from, lot.expires_at, lot.remaining)
        for lot in PointsLot.objects.filter(account__member=duplicate)
    )

    member_merge(source=duplicate, target=survivor, actor=superuser)

    moved = sorted(
        (lot.available_from, lot.expires_at, lot.remaining)
        for lot in PointsLot.objects.filter(account__member=survivor)
    )
    balance = account_balance(member=survivor)
    assert moved == expiries
    assert (balance.available, balance.pending) == (12, 3)
    assert ledger_reconcile() == []
