from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from loyalty.ledger.exceptions import EntryAlreadyReversed, InsufficientPoints
from loyalty.ledger.models import LedgerEntry, PointsLot
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import (
    ledger_entry_reverse,
    ledger_reconcile,
    points_adjust,
    points_earn,
    points_expire_due,
    points_redeem,
)
from tests.factories.ledger import earn

pytestmark = pytest.mark.django_db


def test_purchase_earns_floor_of_the_whole_amount(programme, member):
    result = earn(member, "10.99")

    assert result.points_earned == 10
    assert account_balance(member=member).available == 10
    entry = result.entries[0]
    assert entry.kind == "earn" and entry.balance_after == 10
    assert entry.rules[0]["step"] == "base_rate"


def test_redeem_takes_available_points_and_refuses_more(programme, member):
    earn(member, "50")

    entry = points_redeem(
        member=member, points=30, source_type="test", source_id="1", idempotency_key="r1"
    )
    with pytest.raises(InsufficientPoints) as excinfo:
        points_redeem(
            member=member, points=21, source_type="test", source_id="2", idempotency_key="r2"
        )

    assert entry.amount == -30 and entry.balance_after == 20
    assert excinfo.value.extra == {"available": 20, "balance": 20, "requested": 21}
    assert account_balance(member=member).available == 20
    assert ledger_reconcile() == []


def test_same_idempotency_key_posts_once(programme, member):
    earn(member, "50")

    first = points_redeem(
        member=member, points=5, source_type="t", source_id="1", idempotency_key="same"
    )
    again = points_redeem(
        member=member, points=5, source_type="t", source_id="1", idempotency_key="same"
    )

    assert first.pk == again.pk
    assert account_balance(member=member).balance == 45


def test_pending_points_cannot_be_spent_until_released(programme, member):
    programme.pending_days = 14
    programme.save()
    earn(member, "20")

    balance = account_balance(member=member)
    assert (balance.available, balance.pending, balance.balance) == (0, 20, 20)
    with pytest.raises(InsufficientPoints):
        points_redeem(member=member, points=1, source_type="t", source_id="1", idempotency_key="k")
    later = account_balance(member=member, as_of=timezone.now() + timedelta(days=15))
    assert (later.available, later.pending) == (20, 0)


def test_spending_takes_the_soonest_expiring_lot_first(programme, member):
    old = points_earn(
        member=member,
        points=10,
        idempotency_key="old",
        occurred_at=timezone.now() - timedelta(days=300),
    )
    new = points_earn(member=member, points=10, idempotency_key="new")

    points_redeem(member=member, points=12, source_type="t", source_id="1", idempotency_key="r")

    assert PointsLot.objects.get(entry=old).remaining == 0
    assert PointsLot.objects.get(entry=new).remaining == 8


def test_cancelled_redemption_restores_the_exact_lots(programme, member):
    a = points_earn(
        member=member,
        points=10,
        idempotency_key="a",
        occurred_at=timezone.now() - timedelta(days=100),
    )
    b = points_earn(member=member, points=10, idempotency_key="b")
    redeem = points_redeem(
        member=member, points=15, source_type="reward", source_id="9", idempotency_key="r"
    )

    refund = ledger_entry_reverse(entry=redeem, reason="voucher cancelled")

    assert refund.kind == "refund" and refund.amount == 15 and refund.reverses_id == redeem.pk
    assert PointsLot.objects.get(entry=a).remaining == 10
    assert PointsLot.objects.get(entry=b).remaining == 10
    assert account_balance(member=member).available == 20
    with pytest.raises(EntryAlreadyReversed):
        ledger_entry_reverse(entry=redeem, reason="again", idempotency_key="other")
    assert ledger_reconcile() == []


def test_cancelled_redemption_never_refills_a_lot_past_its_expiry(programme, member):
    old = points_earn(member=member, points=10, idempotency_key="old")
    redeem = points_redeem(
        member=member, points=6, source_type="reward", source_id="9", idempotency_key="r"
    )
    now = timezone.now()
    # time passes: the old lot's expiry goes by and the nightly job expires its remainder
    PointsLot.objects.filter(entry=old).update(
        available_from=now - timedelta(days=2), expires_at=now - timedelta(days=1)
    )
    assert points_expire_due(as_of=now) == 4

    refund = ledger_entry_reverse(entry=redeem, reason="voucher cancelled")

    fresh = PointsLot.objects.get(entry=refund)
    assert PointsLot.objects.get(entry=old).remaining == 0
    assert (fresh.remaining, fresh.expires_at > timezone.now()) == (6, True)
    assert points_expire_due(as_of=timezone.now()) == 0
    assert account_balance(member=member).available == 6
    assert ledger_reconcile() == []


def test_adjustment_needs_reason_and_staff(programme, member, staff_user):
    with pytest.raises(ValidationError) as excinfo:
        points_adjust(member=member, points=5, reason=" ", actor=None, idempotency_key="a")
    assert set(excinfo.value.message_dict) == {"reason", "actor"}

    entry = points_adjust(
        member=member, points=5, reason="goodwill", actor=staff_user, idempotency_key="a"
    )

    assert entry.created_by == staff_user and entry.reason == "goodwill"
    assert LedgerEntry.objects.filter(kind="adjust", created_by=staff_user).count() == 1


def test_negative_adjustment_cannot_exceed_the_balance(programme, member, staff_user):
    earn(member, "5")

    with pytest.raises(InsufficientPoints):
        points_adjust(
            member=member, points=-6, reason="error", actor=staff_user, idempotency_key="a"
        )
    points_adjust(member=member, points=-5, reason="error", actor=staff_user, idempotency_key="b")

    assert account_balance(member=member).balance == 0


def test_paid_with_points_part_earns_nothing(programme, member):
    programme.point_value = Decimal("0.10")
    programme.save()
    earn(member, "100")

    result = earn(member, "20.00", points_spent=50)  # 50 points = 5.00 paid with points

    assert result.points_earned == 15
    assert result.transaction.amount_paid_with_points == Decimal("5.00")
    assert account_balance(member=member).balance == 100 - 50 + 15


@pytest.mark.parametrize("points", [0, -3])
def test_non_positive_points_are_a_field_error_and_change_nothing(programme, member, points):
    from loyalty.ledger.services import points_opening_balance

    for call in (
        lambda: points_earn(member=member, points=points, idempotency_key="e"),
        lambda: points_redeem(
            member=member, points=points, source_type="t", source_id="1", idempotency_key="r"
        ),
        lambda: points_opening_balance(member=member, points=points, idempotency_key="o"),
    ):
        with pytest.raises(ValidationError) as excinfo:
            call()
        assert "points" in excinfo.value.message_dict

    assert not LedgerEntry.objects.exists()


def test_staff_adjustments_are_attributed_and_can_be_listed(
    programme, member, staff_user, superuser
):
    from loyalty.ledger.selectors import ledger_adjustment_list

    points_adjust(member=member, points=8, reason="goodwill", actor=staff_user, idempotency_key="a")
    points_adjust(member=member, points=-3, reason="typo", actor=superuser, idempotency_key="b")
    earn(member, "10")

    listed = [(e.created_by.username, e.amount, e.reason) for e in ledger_adjustment_list()]
    by_staff = [e.amount for e in ledger_adjustment_list(actor=staff_user, member=member)]

    assert listed == [("boss", -3, "typo"), ("staff", 8, "goodwill")]
    assert by_staff == [8]
