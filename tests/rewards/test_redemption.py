"""Redeeming rewards: every refusal with its code, and points back exactly on cancel/undo."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from loyalty.ledger.exceptions import InsufficientPoints
from loyalty.ledger.models import LedgerEntry, PointsLot
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import ledger_reconcile, points_earn
from members.exceptions import MemberNotActive
from members.models import Member
from rewards.codes import ALPHABET, voucher_code_normalize
from rewards.exceptions import (
    IdempotencyConflict,
    PointsPaymentInvalid,
    RewardLimitReached,
    RewardNotAvailable,
    RewardNotEligible,
    RewardOutOfStock,
    VoucherAlreadyUsed,
    VoucherNotFound,
    VoucherNotValid,
    VoucherUndoWindowPassed,
    VoucherUsedForOtherOrder,
)
from rewards.models import Redemption, Reward, Voucher
from rewards.selectors import voucher_check
from rewards.services import (
    points_payment_create,
    redemption_cancel,
    redemption_create,
    voucher_consume,
    voucher_consume_undo,
    voucher_mark_used,
    vouchers_expire_due,
)
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardCodeFactory, RewardFactory
from tests.factories.tiers import TierFactory, TierPolicyFactory

pytestmark = pytest.mark.django_db


def available(member) -> int:
    return account_balance(member=member).available


def test_redeeming_spends_the_points_and_issues_a_readable_single_use_voucher(funded):
    reward = RewardFactory(points_cost=300, stock=5, voucher_valid_days=10)

    redemption = redemption_create(member=funded, reward=reward)

    voucher = redemption.voucher
    assert available(funded) == 700
    assert redemption.ledger_entry.amount == -300
    assert redemption.ledger_entry.kind == LedgerEntry.Kind.REDEEM
    assert voucher.status == Voucher.Status.ISSUED
    assert len(voucher.code) == 12 and set(voucher.code) <= set(ALPHABET)
    assert not set("0O1I") & set(voucher.code)
    assert voucher_code_normalize(voucher.display_code.lower()) == voucher.code
    assert voucher.expires_at - timezone.now() > timedelta(days=9, hours=23)
    reward.refresh_from_db()
    assert reward.stock == 4
    assert ledger_reconcile() == []


def test_a_mistyped_code_is_not_found_without_a_lookup_hit(funded):
    voucher = redemption_create(member=funded, reward=RewardFactory()).voucher
    typo = voucher.code[:-1] + next(c for c in ALPHABET if c != voucher.code[-1])
    with pytest.raises(VoucherNotFound) as caught:
        voucher_check(code=typo)
    assert caught.value.code == "voucher_not_found"
    assert voucher_check(code=f" {voucher.display_code.lower()} ").valid is True


def test_inactive_member_is_refused(funded):
    Member.objects.filter(pk=funded.pk).update(status=Member.Status.SUSPENDED)
    funded.refresh_from_db()
    with pytest.raises(MemberNotActive) as caught:
        redemption_create(member=funded, reward=RewardFactory())
    assert caught.value.code == "member_not_active"
    assert available(funded) == 1000


@pytest.mark.parametrize(
    "fields",
    [
        {"active": False},
        {"available_until": timezone.now() - timedelta(days=1)},
        {"available_from": timezone.now() + timedelta(days=1)},
    ],
    ids=["inactive", "expired", "not-yet"],
)
def test_reward_outside_its_window_or_inactive_is_refused(funded, fields):
    reward = RewardFactory(**fields)
    with pytest.raises(RewardNotAvailable) as caught:
        redemption_create(member=funded, reward=reward)
    assert caught.value.code == "reward_not_available"
    assert not Redemption.objects.exists()
    assert available(funded) == 1000


def test_tier_restricted_reward_needs_the_tier(funded):
    TierPolicyFactory()
    gold = TierFactory(code="gold", rank=2, threshold=Decimal("1000"))
    reward = RewardFactory(visibility=Reward.Visibility.TIER, min_tier=gold)
    with pytest.raises(RewardNotEligible) as caught:
        redemption_create(member=funded, reward=reward)
    assert caught.value.code == "reward_not_eligible"
    assert caught.value.http_status == 403


def test_tier_member_may_redeem_a_tier_reward(funded, staff_user):
    from loyalty.tiers.services import tier_assign

    TierPolicyFactory()
    TierFactory(code="base", rank=0, threshold=Decimal("0"))
    gold = TierFactory(code="gold", rank=2, threshold=Decimal("1000"))
    reward = RewardFactory(visibility=Reward.Visibility.TIER, min_tier=gold)
    tier_assign(member=funded, tier=gold, reason="test", actor=staff_user)
    assert redemption_create(member=funded, reward=reward).voucher.status == "issued"


def test_out_of_stock_is_refused_and_nothing_is_spent(funded):
    reward = RewardFactory(stock=1)
    redemption_create(member=funded, reward=reward)
    with pytest.raises(RewardOutOfStock) as caught:
        redemption_create(member=funded, reward=reward)
    assert caught.value.code == "reward_out_of_stock"
    assert available(funded) == 900
    reward.refresh_from_db()
    assert reward.stock == 0


def test_limit_per_member_and_per_period(funded):
    total = RewardFactory(limit_per_member=1)
    redemption_create(member=funded, reward=total)
    with pytest.raises(RewardLimitReached) as caught:
        redemption_create(member=funded, reward=total)
    assert caught.value.code == "reward_limit_reached"

    monthly = RewardFactory(limit_per_period=2, limit_period=Reward.LimitPeriod.MONTH)
    redemption_create(member=funded, reward=monthly)
    redemption_create(member=funded, reward=monthly)
    with pytest.raises(RewardLimitReached):
        redemption_create(member=funded, reward=monthly)
    assert available(funded) == 1000 - 300


def test_a_cancelled_redemption_does_not_count_towards_the_limit(funded):
    reward = RewardFactory(limit_per_member=1)
    first = redemption_create(member=funded, reward=reward)
    redemption_cancel(redemption=first, reason="changed mind")
    assert redemption_create(member=funded, reward=reward).status == "completed"


def test_not_enough_points_is_a_409_and_leaves_stock(member):
    points_earn(member=member, points=50, idempotency_key="seed")
    reward = RewardFactory(points_cost=100, stock=3)
    with pytest.raises(InsufficientPoints) as caught:
        redemption_create(member=member, reward=reward)
    assert caught.value.code == "insufficient_points" and caught.value.http_status == 409
    reward.refresh_from_db()
    assert reward.stock == 3
    assert not Redemption.objects.exists() and not Voucher.objects.exists()


def test_pending_points_cannot_be_redeemed(programme, member):
    programme.pending_days = 14
    programme.save()
    points_earn(member=member, points=500, idempotency_key="p", pending=True)
    with pytest.raises(InsufficientPoints):
        redemption_create(member=member, reward=RewardFactory(points_cost=100))


def test_replaying_an_idempotency_key_returns_the_first_redemption(funded):
    reward = RewardFactory()
    first = redemption_create(member=funded, reward=reward, idempotency_key="k1")
    again = redemption_create(member=funded, reward=reward, idempotency_key="k1")
    assert again.pk == first.pk
    assert available(funded) == 900
    with pytest.raises(IdempotencyConflict):
        redemption_create(member=funded, reward=RewardFactory(), idempotency_key="k1")


def test_cancel_gives_the_points_back_to_the_lots_they_came_from_and_restores_stock(member):
    soon = timezone.now() + timedelta(days=30)
    points_earn(member=member, points=60, idempotency_key="a")
    points_earn(member=member, points=100, idempotency_key="b")
    lot_a = PointsLot.objects.get(entry__idempotency_key="a")
    PointsLot.objects.filter(pk=lot_a.pk).update(expires_at=soon)  # spent first
    reward = RewardFactory(points_cost=120, stock=2)
    redemption = redemption_create(member=member, reward=reward)
    before = {lot.pk: lot.remaining for lot in PointsLot.objects.filter(account__member=member)}
    assert sorted(before.values()) == [0, 40]

    redemption_cancel(redemption=redemption, reason="customer changed mind")

    after = {lot.pk: lot.remaining for lot in PointsLot.objects.filter(account__member=member)}
    assert after == {lot_a.pk: 60, PointsLot.objects.get(entry__idempotency_key="b").pk: 100}
    assert available(member) == 160
    redemption.refresh_from_db()
    assert redemption.status == "cancelled" and redemption.refund_entry.amount == 120
    assert redemption.voucher.status == Voucher.Status.CANCELLED
    reward.refresh_from_db()
    assert reward.stock == 2
    assert redemption_cancel(redemption=redemption, reason="again").refund_entry_id == (
        redemption.refund_entry_id
    )
    assert ledger_reconcile() == []


def test_a_used_voucher_cannot_be_cancelled(funded):
    redemption = redemption_create(member=funded, reward=RewardFactory())
    voucher_consume(code=redemption.voucher.code, order_ref="ORDER-1")
    with pytest.raises(VoucherAlreadyUsed) as caught:
        redemption_cancel(redemption=redemption, reason="too late")
    assert caught.value.code == "voucher_already_used"
    assert available(funded) == 900


def test_cancel_needs_a_reason(funded):
    redemption = redemption_create(member=funded, reward=RewardFactory())
    with pytest.raises(ValidationError):
        redemption_cancel(redemption=redemption, reason="  ")


def test_consume_is_idempotent_per_order_and_refused_for_another(funded):
    voucher = redemption_create(member=funded, reward=RewardFactory()).voucher
    used = voucher_consume(code=voucher.display_code, order_ref="A-1")
    again = voucher_consume(code=voucher.code, order_ref="A-1")
    assert used.used_at == again.used_at and again.status == Voucher.Status.USED
    with pytest.raises(VoucherUsedForOtherOrder) as caught:
        voucher_consume(code=voucher.code, order_ref="B-2")
    assert caught.value.code == "voucher_used_for_other_order"
    check = voucher_check(code=voucher.code)
    assert check.status == "used" and check.order_ref == "A-1" and not check.valid


def test_expired_and_cancelled_vouchers_cannot_be_consumed(funded):
    expired = redemption_create(member=funded, reward=RewardFactory()).voucher
    Voucher.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(VoucherNotValid) as caught:
        voucher_consume(code=expired.code, order_ref="X")
    assert caught.value.extra["status"] == "expired"
    assert voucher_check(code=expired.code).status == "expired"

    redemption = redemption_create(member=funded, reward=RewardFactory())
    redemption_cancel(redemption=redemption, reason="r")
    with pytest.raises(VoucherNotValid):
        voucher_consume(code=redemption.voucher.code, order_ref="X")


def test_undo_makes_a_catalogue_voucher_usable_again_within_the_window(funded, rules):
    voucher = redemption_create(member=funded, reward=RewardFactory()).voucher
    voucher_consume(code=voucher.code, order_ref="A-1")
    with pytest.raises(VoucherUsedForOtherOrder):
        voucher_consume_undo(code=voucher.code, order_ref="B-2")
    undone = voucher_consume_undo(code=voucher.code, order_ref="A-1", reason="refund")
    assert undone.status == Voucher.Status.ISSUED and undone.used_at is None
    assert voucher_consume_undo(code=voucher.code, order_ref="A-1").status == "issued"
    assert available(funded) == 900  # the voucher came back, not the points

    voucher_consume(code=voucher.code, order_ref="C-3")
    Voucher.objects.filter(pk=voucher.pk).update(used_at=timezone.now() - timedelta(days=31))
    with pytest.raises(VoucherUndoWindowPassed) as caught:
        voucher_consume_undo(code=voucher.code, order_ref="C-3")
    assert caught.value.code == "voucher_undo_window_passed"


def test_paying_with_points_and_undoing_it_gives_the_points_back_exactly(funded, rules):
    paid = points_payment_create(member=funded, order_ref="R-9", amount=Decimal("2.50"))
    assert paid.points == 250 and paid.value == Decimal("2.50")
    assert paid.voucher.status == Voucher.Status.USED and paid.voucher.order_ref == "R-9"
    assert available(funded) == 750

    voucher_consume_undo(code=paid.voucher.code, order_ref="R-9", reason="refunded")

    paid.refresh_from_db()
    assert paid.status == "cancelled" and paid.refund_entry.amount == 250
    assert available(funded) == 1000
    assert PointsLot.objects.get(entry__idempotency_key="seed").remaining == 1000
    assert ledger_reconcile() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"points": 50}, "at least 100"),
        ({"amount": Decimal("0.005")}, "whole number"),
        ({"points": 150, "step": 100}, "steps of 100"),
        ({"points": 100, "amount": Decimal("1")}, "not both"),
        ({"amount": Decimal("999999999.99")}, "at most"),
    ],
)
def test_points_payment_rules(funded, rules, kwargs, message):
    if step := kwargs.pop("step", None):
        rules.points_payment_step = step
        rules.save()
    with pytest.raises(PointsPaymentInvalid) as caught:
        points_payment_create(member=funded, order_ref="R", **kwargs)
    assert message in caught.value.message
    assert available(funded) == 1000


def test_points_payment_beyond_the_balance_is_refused(funded):
    with pytest.raises(InsufficientPoints):
        points_payment_create(member=funded, order_ref="R", points=1001)


def test_partner_reward_hands_out_each_pool_code_once(funded):
    reward = RewardFactory(kind=Reward.Kind.PARTNER_CODE, code="cinema")
    RewardCodeFactory(reward=reward, code="CIN-1")
    RewardCodeFactory(reward=reward, code="CIN-2")
    codes = {redemption_create(member=funded, reward=reward).voucher.partner_code for _ in "ab"}
    assert codes == {"CIN-1", "CIN-2"}
    with pytest.raises(RewardOutOfStock):
        redemption_create(member=funded, reward=reward)
    assert available(funded) == 800


def test_expiry_job_expires_due_vouchers_and_refunds_only_when_the_reward_says_so(funded):
    keep = redemption_create(member=funded, reward=RewardFactory(points_cost=100)).voucher
    back = redemption_create(
        member=funded, reward=RewardFactory(points_cost=200, refund_points_on_expiry=True)
    ).voucher
    fresh = redemption_create(member=funded, reward=RewardFactory(points_cost=50)).voucher
    past = timezone.now() - timedelta(minutes=1)
    Voucher.objects.filter(pk__in=[keep.pk, back.pk]).update(expires_at=past)

    assert vouchers_expire_due() == 2
    assert vouchers_expire_due() == 0  # re-running expires nothing twice

    statuses = dict(Voucher.objects.values_list("pk", "status"))
    assert statuses == {keep.pk: "expired", back.pk: "expired", fresh.pk: "issued"}
    assert available(funded) == 1000 - 100 - 50
    assert ledger_reconcile() == []


def test_staff_may_mark_a_voucher_used_with_a_reason(funded, staff_user):
    voucher = redemption_create(member=funded, reward=RewardFactory()).voucher
    with pytest.raises(ValidationError):
        voucher_mark_used(voucher=voucher, reason="", actor=staff_user)
    used = voucher_mark_used(voucher=voucher, reason="gift handed over", actor=staff_user)
    assert used.status == "used" and used.used_by == staff_user and used.note


def test_low_stock_alert_mails_staff_once(
    funded, rules, mailoutbox, django_capture_on_commit_callbacks
):
    rules.low_stock_email = "stock@example.com"
    rules.save()
    reward = RewardFactory(stock=3, low_stock_threshold=2)
    with django_capture_on_commit_callbacks(execute=True):
        redemption_create(member=funded, reward=reward)  # 2 left: alert
    with django_capture_on_commit_callbacks(execute=True):
        redemption_create(member=funded, reward=reward)  # 1 left: already alerted
    assert len(mailoutbox) == 1
    assert "Low stock" in mailoutbox[0].subject and mailoutbox[0].to == ["stock@example.com"]


def test_a_member_can_only_see_their_own_vouchers_by_member(funded):
    other = MemberFactory()
    points_earn(member=other, points=500, idempotency_key="o")
    redemption_create(member=other, reward=RewardFactory())
    from rewards.selectors import voucher_list_for_member

    assert voucher_list_for_member(member=funded).count() == 0
    assert voucher_list_for_member(member=other).count() == 1
