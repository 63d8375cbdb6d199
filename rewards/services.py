"""Rewards writes: redeem, pay with points, cancel, consume and undo vouchers, expire, alert.

Lock order everywhere: the member's points account first, then the reward row (stock), then the
voucher row. Two redemptions of one member are serialised by the account lock (limits and points
are checked under it); redemptions of one reward by many members are serialised only for the
instant of the conditional stock UPDATE, so the stock can never be oversold.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.core import events
from loyalty.core.queue import task_delay
from loyalty.core.services import model_update
from loyalty.ledger.exceptions import InsufficientPoints
from loyalty.ledger.locks import lock_account
from loyalty.ledger.models import LedgerEntry
from loyalty.ledger.policy import programme_settings_get
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import account_get_or_create, ledger_entry_reverse, points_redeem
from members.exceptions import MemberNotActive
from members.models import Member, Store
from rewards.codes import printed_code_normalize, voucher_code_generate, voucher_code_lookup
from rewards.exceptions import (
    CauseNotAvailable,
    DonationFinal,
    IdempotencyConflict,
    PointsPaymentInvalid,
    RedemptionNotFound,
    RewardLimitReached,
    RewardNotAvailable,
    RewardNotEligible,
    RewardOutOfStock,
    VoucherAlreadyUsed,
    VoucherMemberMismatch,
    VoucherNotFound,
    VoucherNotIssuable,
    VoucherNotValid,
    VoucherUndoWindowPassed,
    VoucherUsedForOtherOrder,
)
from rewards.hooks import MemberPrice, member_prices, member_refusals
from rewards.models import (
    Cause,
    Donation,
    Redemption,
    Reward,
    RewardCode,
    RewardsSettings,
    Voucher,
    VoucherBatch,
)
from rewards.selectors import (
    PERIOD_WORDS,
    format_day,
    member_tier_rank,
    period_start,
    programme_zone,
    rewards_settings_get,
    voucher_expiry_for,
    voucher_last_day,
)

logger = logging.getLogger(__name__)

MAX_POINTS_PAYMENT = 1_000_000_000


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _require_active(member: Member) -> None:
    if member.status != Member.Status.ACTIVE:
        raise MemberNotActive(
            _("Member %(member_number)s is %(status)s; only active members can redeem.")
            % {
                "member_number": member.member_number,
                "status": member.get_status_display().lower(),
            },
            extra={"status": member.status},
        )


def reward_check_eligible(*, member: Member, reward: Reward, now: datetime) -> None:
    """Status, dates and tier: what does not depend on the member's counts (no lock needed)."""
    _require_active(member)
    live = Reward.objects.live(now).filter(pk=reward.pk).exists()
    if not live:
        raise RewardNotAvailable(
            _("“%(name)s” cannot be redeemed now.") % {"name": reward.name},
            extra={"reward": reward.code},
        )
    if reward.visibility == Reward.Visibility.HIDDEN:
        raise RewardNotEligible(
            _("“%(name)s” is not offered to members.") % {"name": reward.name},
            extra={"reward": reward.code},
        )
    if reward.min_tier_id is not None:
        rank = member_tier_rank(member=member)
        needed = reward.min_tier.rank  # type: ignore[union-attr]
        if rank is None or rank < needed:
            raise RewardNotEligible(
                _("“%(name)s” is for %(tier)s members and above.")
                % {"name": reward.name, "tier": reward.min_tier.name},  # type: ignore[union-attr]
                extra={"reward": reward.code, "min_tier": reward.min_tier.code},  # type: ignore[union-attr]
            )


MAX_QUANTITY = 100


def _check_limits(*, member: Member, reward: Reward, now: datetime, quantity: int = 1) -> None:
    """Per-member limits for `quantity` more at once (checked under the account lock)."""
    taken = Redemption.objects.filter(
        member=member, reward=reward, status=Redemption.Status.COMPLETED
    )
    if reward.limit_per_member is not None:
        done = taken.count()
        if done + quantity > reward.limit_per_member:
            left = max(reward.limit_per_member - done, 0)
            raise RewardLimitReached(
                _(
                    "Member already redeemed “%(name)s” %(limit_per_member)s time(s), the most "
                    "allowed."
                )
                % {"name": reward.name, "limit_per_member": reward.limit_per_member}
                if quantity == 1 or not left
                else _(
                    "Member may redeem “%(name)s” %(left)s more time(s), not %(quantity)s "
                    "(at most %(limit)s in all)."
                )
                % {
                    "name": reward.name,
                    "left": left,
                    "quantity": quantity,
                    "limit": reward.limit_per_member,
                },
                extra={"limit": reward.limit_per_member, "period": None, "left": left},
            )
    if reward.limit_per_period and reward.limit_period:
        start = period_start(reward.limit_period, now)
        done = taken.filter(created_at__gte=start).count()
        if done + quantity > reward.limit_per_period:
            left = max(reward.limit_per_period - done, 0)
            raise RewardLimitReached(
                _(
                    "Member already redeemed “%(name)s” %(limit_per_period)s time(s) this "
                    "%(period)s, the most allowed."
                )
                % {
                    "name": reward.name,
                    "limit_per_period": reward.limit_per_period,
                    "period": PERIOD_WORDS.get(reward.limit_period, reward.limit_period),
                }
                if quantity == 1 or not left
                else _(
                    "Member may redeem “%(name)s” %(left)s more time(s) this %(period)s, not "
                    "%(quantity)s."
                )
                % {
                    "name": reward.name,
                    "left": left,
                    "period": PERIOD_WORDS.get(reward.limit_period, reward.limit_period),
                    "quantity": quantity,
                },
                extra={
                    "limit": reward.limit_per_period,
                    "period": reward.limit_period,
                    "left": left,
                },
            )


def _check_points(
    *, member: Member, reward: Reward, quantity: int, now: datetime, cost: int | None = None
) -> None:
    """All N at once: refused before anything is taken when the available points do not cover
    the whole request (the ledger checks each debit again under the same lock)."""
    needed = (cost or reward.points_cost) * quantity
    available = account_balance(member=member, as_of=now).available
    if available < needed:
        raise InsufficientPoints(
            _(
                "Only %(available)s points are available; %(needed)s were requested for "
                "%(quantity)s of “%(name)s”."
            )
            % {"quantity": quantity, "name": reward.name, "needed": needed, "available": available},
            extra={"available": available, "requested": needed, "quantity": quantity},
        )


def _take_stock(reward: Reward, quantity: int = 1) -> int | None:
    """Decrement counted stock atomically by `quantity`; returns what is left (None: unlimited)."""
    if reward.stock is None:
        return None
    # conditional UPDATE: the row lock it takes lasts to commit, so concurrent redeemers queue
    # here and the last one sees too little and is refused; a later rollback restores the units.
    updated = Reward.objects.filter(pk=reward.pk, stock__gte=quantity).update(
        stock=F("stock") - quantity
    )
    if not updated:
        left = Reward.objects.filter(pk=reward.pk).values_list("stock", flat=True).get()
        if quantity == 1 or not left:
            raise RewardOutOfStock(
                _("“%(name)s” is out of stock.") % {"name": reward.name},
                extra={"reward": reward.code, "left": left},
            )
        raise RewardOutOfStock(
            _("Only %(left)s of “%(name)s” left; %(quantity)s requested.")
            % {"left": left, "name": reward.name, "quantity": quantity},
            extra={"reward": reward.code, "left": left, "requested": quantity},
        )
    stock: int | None = Reward.objects.filter(pk=reward.pk).values_list("stock", flat=True).get()
    return stock


def _take_partner_codes(reward: Reward, quantity: int = 1) -> list[RewardCode]:
    codes = list(
        RewardCode.objects.select_for_update(skip_locked=True)
        .filter(reward=reward, voucher__isnull=True)
        .order_by("pk")[:quantity]
    )
    if len(codes) < quantity:
        if quantity == 1 or not codes:
            raise RewardOutOfStock(
                _("“%(name)s” has no partner codes left.") % {"name": reward.name},
                extra={"reward": reward.code},
            )
        raise RewardOutOfStock(
            _("Only %(left)s partner codes of “%(name)s” free; %(quantity)s requested.")
            % {"left": len(codes), "name": reward.name, "quantity": quantity},
            extra={"reward": reward.code, "left": len(codes), "requested": quantity},
        )
    return codes


def _issue_voucher(
    redemption: Redemption, *, expires_at: datetime, partner_code: str = "", **fields: Any
) -> Voucher:
    return _voucher_create(
        redemption=redemption,
        member_id=redemption.member_id,
        partner_code=partner_code,
        expires_at=expires_at,
        **fields,
    )


def _voucher_create(**fields: Any) -> Voucher:
    for _attempt in range(5):  # 55 random bits: a collision is astronomically rare, but never a 500
        try:
            with transaction.atomic():
                return Voucher.objects.create(code=voucher_code_generate(), **fields)
        except IntegrityError:
            continue
    raise RuntimeError("could not draw a unique voucher code")


@transaction.atomic
def voucher_gift(
    *, member: Member, reward: Reward, gift_key: str, note: str = ""
) -> tuple[Voucher, bool]:
    """Give `member` a voucher for `reward` without charging points (a campaign's birthday or
    win-back gift); returns (voucher, created).

    Idempotent on `gift_key`: the same key again returns the first voucher and takes nothing
    (another member with the key is IdempotencyConflict). Checked: the member is active and the
    reward live (active, inside its availability window); its visibility and minimum tier are
    not (a gift may be a hidden, staff-only reward), nor the member's redemption limits (those
    count redemptions paid with points). Stock and partner codes are taken as for a redemption.
    The voucher is bound to the member and valid for the reward's voucher days. Raises
    MemberNotActive, RewardNotAvailable, RewardOutOfStock; runs in the caller's transaction
    (lock order: the member's account, then the reward's stock)."""
    gift_key = (gift_key or "").strip()
    if not gift_key or len(gift_key) > 120:
        raise ValidationError({"gift_key": [_("A gift reference of 1 to 120 characters.")]})
    account = account_get_or_create(member=member)
    lock_account(account.pk)
    existing = Voucher.objects.filter(gift_key=gift_key).first()
    if existing is not None:
        if existing.member_id != member.pk or existing.gift_reward_id != reward.pk:
            raise IdempotencyConflict(extra={"gift_key": gift_key})
        return existing, False
    _require_active(member)
    now = timezone.now()
    reward = Reward.objects.get(pk=reward.pk)
    if not Reward.objects.live(now).filter(pk=reward.pk).exists():
        raise RewardNotAvailable(
            _("“%(name)s” cannot be given now.") % {"name": reward.name},
            extra={"reward": reward.code},
        )
    left = _take_stock(reward)
    partner = _take_partner_codes(reward)[0] if reward.kind == Reward.Kind.PARTNER_CODE else None
    voucher = _voucher_create(
        gift_reward=reward,
        gift_key=gift_key,
        member=member,
        member_bound=True,
        issued_at=now,
        partner_code=partner.code if partner else "",
        expires_at=voucher_expiry_for(issued_at=now, valid_days=reward.voucher_valid_days),
        note=note[:300],
    )
    if partner is not None:
        partner.voucher = voucher
        partner.save(update_fields=["voucher", "updated_at"])
    events.publish(
        "voucher.issued",
        {
            "voucher": voucher.display_code,
            "member_id": member.pk,
            "member_number": member.member_number,
            "reward": reward.code,
            "points": 0,
            "expires_at": voucher.expires_at.isoformat(),
        },
    )
    _low_stock_check(reward, left)
    return voucher, True


def _replay(
    member: Member,
    key: str,
    *,
    reward: Reward | None,
    kind: str,
    points: int | None = None,
    quantity: int = 1,
) -> Redemption | None:
    if not key:
        return None
    existing = (
        Redemption.objects.select_related("voucher", "reward")
        .filter(member=member, idempotency_key=key)
        .first()
    )
    if existing is None:
        return None
    same = (
        existing.kind == kind
        and existing.reward_id == (reward.pk if reward else None)
        and existing.batch_quantity == quantity
    )
    if points is not None:
        same = same and existing.points == points
    if not same:
        raise IdempotencyConflict(extra={"redemption": existing.pk})
    return existing


def _low_stock_check(reward: Reward, left: int | None) -> None:
    threshold = reward.low_stock_threshold
    if left is None or threshold is None or left > threshold or reward.low_stock_alerted_at:
        return
    transaction.on_commit(lambda: reward_low_stock_alert_enqueue(reward_id=reward.pk))


def reward_low_stock_alert_enqueue(*, reward_id: int) -> bool:
    """Hand the alert to Celery after the redemption committed. A broker that is down is logged
    as an error and must not fail the redemption (it is committed): the reward row itself still
    says "low and not alerted", so `reward_low_stock_alerts_sweep` sends the alert later."""
    try:
        task_delay("rewards.tasks.reward_low_stock_alert_task", reward_id)
    except Exception:
        logger.exception(
            "could not enqueue the low-stock alert for reward %s; the sweep will", reward_id
        )
        return False
    return True


def _member_terms(*, member: Member, reward: Reward, now: datetime) -> MemberPrice:
    """The upper apps' say (rewards/hooks.py): refuse the reward, or lower its price."""
    refusal = member_refusals(member=member, rewards=[reward], now=now).get(reward.pk)
    if refusal:
        raise RewardNotEligible(refusal, extra={"reward": reward.code})
    return member_prices(member=member, rewards=[reward], now=now)[reward.pk]


def _donation_cause(reward: Reward, cause: Cause | None) -> Cause | None:
    """The cause a donation goes to: the reward's own, or the member's choice (an open cause)."""
    if reward.kind != Reward.Kind.DONATION:
        if cause is not None:
            raise ValidationError({"cause": [_("Only a donation reward goes to a cause.")]})
        return None
    if reward.cause_id is not None:
        if cause is not None and cause.pk != reward.cause_id:
            raise ValidationError(
                {"cause": [_("This donation goes to %(cause)s.") % {"cause": reward.cause}]}
            )
        cause = reward.cause
    if cause is None:
        raise ValidationError({"cause": [_("Choose the cause the points go to.")]})
    if not cause.active:
        raise CauseNotAvailable(
            _("“%(cause)s” is not open for donations.") % {"cause": cause.name},
            extra={"cause": cause.code},
        )
    return cause


def _donation_record(redemption: Redemption, *, cause: Cause, point_value: Decimal) -> Donation:
    donation = Donation(
        redemption=redemption,
        member_id=redemption.member_id,
        cause=cause,
        points=redemption.points,
        value=(redemption.points * point_value).quantize(Decimal("0.01")),
        matching=cause.matching,
        matched_points=redemption.points * cause.matching,
        matched_value=(redemption.points * cause.matching * point_value).quantize(Decimal("0.01")),
    )
    donation.full_clean()
    donation.save()
    return donation


@transaction.atomic(durable=True)
def redemption_create(
    *,
    member: Member,
    reward: Reward,
    actor: Any = None,
    channel: str = Redemption.Channel.API,
    store: Store | None = None,
    idempotency_key: str | None = None,
    quantity: int = 1,
    cause: Cause | None = None,
) -> Redemption:
    """Spend the reward's points and issue a voucher, all or nothing; with `quantity` N, N
    redemptions with a voucher each, or none.

    Checks, in one transaction under the member's account lock: member active, reward live and
    visible to the member's tier, limits for N more, the points for N (before anything is
    taken), stock for N (one conditional UPDATE) and N partner codes. Raises MemberNotActive,
    RewardNotAvailable, RewardNotEligible, RewardLimitReached, RewardOutOfStock,
    InsufficientPoints, IdempotencyConflict, ValidationError (quantity). Replaying an
    idempotency key returns the first redemption of the first request (the others through
    `rewards.selectors.redemption_batch`). Returns the first redemption."""
    if not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationError(
            {"quantity": [_("Redeem from 1 to %(max)s at once.") % {"max": MAX_QUANTITY}]}
        )
    now = timezone.now()
    key = (idempotency_key or "").strip()
    account = account_get_or_create(member=member)
    lock_account(account.pk)
    replay = _replay(member, key, reward=reward, kind=Redemption.Kind.REWARD, quantity=quantity)
    if replay is not None:
        return replay
    reward = Reward.objects.select_related("min_tier", "cause").get(pk=reward.pk)
    reward_check_eligible(member=member, reward=reward, now=now)
    price = _member_terms(member=member, reward=reward, now=now)
    cause = _donation_cause(reward, cause)
    _check_limits(member=member, reward=reward, now=now, quantity=quantity)
    if quantity > 1:  # one at a time, the ledger's own check under the same lock is the same
        _check_points(member=member, reward=reward, quantity=quantity, now=now, cost=price.points)
    left = _take_stock(reward, quantity)
    partners = (
        _take_partner_codes(reward, quantity) if reward.kind == Reward.Kind.PARTNER_CODE else []
    )
    expires_at = voucher_expiry_for(issued_at=now, valid_days=reward.voucher_valid_days)
    lead: Redemption | None = None
    for index in range(quantity):
        redemption = Redemption.objects.create(
            member=member,
            reward=reward,
            kind=Redemption.Kind.REWARD,
            points=price.points,
            list_points=price.list_points if price.adjustment else None,
            discount_source=price.adjustment.source if price.adjustment else "",
            channel=channel,
            store=store,
            idempotency_key=key if lead is None else "",
            created_by=_user(actor),
            batch_lead=lead,
            batch_quantity=quantity,
        )
        redemption.ledger_entry = points_redeem(
            member=member,
            points=price.points,
            source_type="redemption",
            source_id=str(redemption.pk),
            idempotency_key=f"redemption:{redemption.pk}",
            actor=actor,
            reason=(f"Donated to “{cause.name}”" if cause else f"Redeemed “{reward.name}”")
            + (f" ({index + 1} of {quantity})" if quantity > 1 else "")
            + (f", {price.adjustment.label}" if price.adjustment else ""),
        )
        redemption.save(update_fields=["ledger_entry", "updated_at"])
        lead = lead or redemption
        if cause is not None:  # a donation: no voucher
            _donation_record(
                redemption, cause=cause, point_value=programme_settings_get().point_value
            )
            continue
        partner = partners[index] if partners else None
        voucher = _issue_voucher(
            redemption,
            expires_at=expires_at,
            partner_code=partner.code if partner else "",
            member_bound=reward.vouchers_member_bound,
        )
        if partner is not None:
            partner.voucher = voucher
            partner.save(update_fields=["voucher", "updated_at"])
        events.publish(
            "voucher.issued",
            {
                "voucher": voucher.display_code,
                "member_id": member.pk,
                "member_number": member.member_number,
                "reward": reward.code,
                "points": redemption.points,
                "expires_at": voucher.expires_at.isoformat(),
            },
        )
    _low_stock_check(reward, left)
    assert lead is not None
    return lead


def points_payment_quote(*, points: int | None, amount: Decimal | None) -> tuple[int, Decimal]:
    """Points and money value of a till payment; raises PointsPaymentInvalid with the reason."""
    rules = rewards_settings_get()
    point_value = programme_settings_get().point_value
    if (points is None) == (amount is None):
        raise PointsPaymentInvalid(_("Give either the points or the amount to pay, not both."))
    if point_value <= 0:
        raise PointsPaymentInvalid(_("Points have no money value in this programme."))
    if amount is not None:
        exact = amount / point_value
        if exact != exact.to_integral_value():
            raise PointsPaymentInvalid(
                _("%(amount)s is not a whole number of points at %(point_value)s per point.")
                % {"amount": amount, "point_value": point_value},
                extra={"point_value": str(point_value)},
            )
        points = int(exact)
    assert points is not None
    if points > MAX_POINTS_PAYMENT:  # an amount far beyond any balance; keeps the row in range
        raise PointsPaymentInvalid(
            _("Use at most %(maximum)s points in one payment.") % {"maximum": MAX_POINTS_PAYMENT},
            extra={"maximum": MAX_POINTS_PAYMENT},
        )
    if points < rules.points_payment_minimum:
        raise PointsPaymentInvalid(
            _("Use at least %(points_payment_minimum)s points to pay.")
            % {"points_payment_minimum": rules.points_payment_minimum},
            extra={"minimum": rules.points_payment_minimum},
        )
    if points % rules.points_payment_step:
        raise PointsPaymentInvalid(
            _("Use points in steps of %(points_payment_step)s.")
            % {"points_payment_step": rules.points_payment_step},
            extra={"step": rules.points_payment_step},
        )
    value = (point_value * points).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return points, value


@transaction.atomic(durable=True)
def points_payment_create(
    *,
    member: Member,
    order_ref: str,
    points: int | None = None,
    amount: Decimal | None = None,
    actor: Any = None,
    channel: str = Redemption.Channel.STORE,
    store: Store | None = None,
    idempotency_key: str | None = None,
) -> Redemption:
    """Pay part of a bill with points at the programme's point value: a redemption whose voucher
    is consumed at once against `order_ref`. Raises PointsPaymentInvalid, MemberNotActive,
    InsufficientPoints, IdempotencyConflict."""
    order_ref = (order_ref or "").strip()
    if not order_ref:
        raise ValidationError({"order_ref": ["Give the order or receipt reference."]})
    _require_active(member)
    points, value = points_payment_quote(points=points, amount=amount)
    now = timezone.now()
    key = (idempotency_key or "").strip()
    account = account_get_or_create(member=member)
    lock_account(account.pk)
    replay = _replay(member, key, reward=None, kind=Redemption.Kind.POINTS_PAYMENT, points=points)
    if replay is not None:
        return replay
    redemption = Redemption.objects.create(
        member=member,
        kind=Redemption.Kind.POINTS_PAYMENT,
        points=points,
        value=value,
        channel=channel,
        store=store,
        idempotency_key=key,
        created_by=_user(actor),
    )
    redemption.ledger_entry = points_redeem(
        member=member,
        points=points,
        source_type="points_payment",
        source_id=str(redemption.pk),
        idempotency_key=f"redemption:{redemption.pk}",
        actor=actor,
        reason=f"Paid {value} with points (order {order_ref})",
    )
    redemption.save(update_fields=["ledger_entry", "updated_at"])
    _issue_voucher(
        redemption,
        expires_at=now,
        status=Voucher.Status.USED,
        used_at=now,
        order_ref=order_ref,
        used_channel=channel,
        used_store=store,
        used_by=_user(actor),
    )
    return redemption


def _refund(redemption: Redemption, *, reason: str, actor: Any, now: datetime) -> None:
    """Points back into the lots they came from, stock back; caller holds the account lock."""
    if redemption.ledger_entry_id is None:
        raise LedgerEntry.DoesNotExist(f"Redemption {redemption.pk} has no ledger entry.")
    entry = LedgerEntry.objects.get(pk=redemption.ledger_entry_id)
    redemption.refund_entry = ledger_entry_reverse(
        entry=entry,
        reason=reason,
        actor=actor,
        idempotency_key=f"redemption-refund:{redemption.pk}",
    )
    if redemption.reward_id is not None:
        Reward.objects.filter(pk=redemption.reward_id, stock__isnull=False).update(
            stock=F("stock") + 1
        )
    redemption.status = Redemption.Status.CANCELLED
    redemption.cancelled_at = now
    redemption.cancel_reason = reason[:300]
    redemption.save(
        update_fields=["status", "cancelled_at", "cancel_reason", "refund_entry", "updated_at"]
    )


def _lock_redemption(redemption_id: int) -> Redemption:
    try:
        return (
            Redemption.objects.select_for_update(of=("self",))
            .select_related("reward", "member")
            .get(pk=redemption_id)
        )
    except Redemption.DoesNotExist:
        raise RedemptionNotFound(extra={"redemption": redemption_id}) from None


def _lock_voucher(voucher_id: int) -> Voucher:
    return (
        Voucher.objects.select_for_update(of=("self",))
        .select_related("redemption", "redemption__reward")
        .get(pk=voucher_id)
    )


@transaction.atomic(durable=True)
def redemption_cancel(*, redemption: Redemption, reason: str, actor: Any = None) -> Redemption:
    """Cancel an unused voucher's redemption: the points go back to the lots they came from and
    the stock is restored. Idempotent (a cancelled redemption is returned as is).
    Raises VoucherAlreadyUsed when the voucher was used, ValidationError without a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why the redemption is cancelled."]})
    account = account_get_or_create(member=redemption.member)
    lock_account(account.pk)
    redemption = _lock_redemption(redemption.pk)
    if redemption.status == Redemption.Status.CANCELLED:
        return redemption
    if Donation.objects.filter(redemption=redemption).exists():
        raise DonationFinal(extra={"redemption": redemption.pk})
    voucher = _lock_voucher(redemption.voucher.pk)
    if voucher.status == Voucher.Status.USED:
        raise VoucherAlreadyUsed(
            _("Voucher %(code)s was used on %(day)s; undo its use first if the order was refunded.")
            % {"code": voucher.display_code, "day": f"{voucher.used_at:%Y-%m-%d}"},
            extra={"voucher": voucher.display_code, "order_ref": voucher.order_ref},
        )
    now = timezone.now()
    if voucher.status == Voucher.Status.EXPIRED and voucher.note.startswith("refunded"):
        raise VoucherNotValid(_("The points of this expired voucher were already given back."))
    _refund(redemption, reason=reason, actor=actor, now=now)
    voucher.status = Voucher.Status.CANCELLED
    voucher.note = reason[:300]
    voucher.save(update_fields=["status", "note", "updated_at"])
    return redemption


def voucher_find(*, code: str) -> Voucher:
    normal = voucher_code_lookup(code)
    voucher = (
        Voucher.objects.filter(code=normal).only("pk", "member_id").first() if normal else None
    )
    if voucher is None:
        raise VoucherNotFound(extra={"code": str(code)[:40]})
    return voucher


def _usable(voucher: Voucher, now: datetime) -> None:
    if voucher.status == Voucher.Status.UNISSUED:
        raise VoucherNotValid(
            _("Voucher %(code)s is pre-printed and was never issued or sold.")
            % {"code": voucher.display_code},
            extra={"status": voucher.status},
        )
    if voucher.status == Voucher.Status.ISSUED and voucher.expires_at <= now:
        raise VoucherNotValid(
            _("Voucher %(code)s expired: it was valid until the end of %(day)s.")
            % {
                "code": voucher.display_code,
                "day": format_day(voucher_last_day(voucher.expires_at)),
            },
            extra={"status": Voucher.Status.EXPIRED},
        )
    if voucher.status in (Voucher.Status.EXPIRED, Voucher.Status.CANCELLED):
        raise VoucherNotValid(
            _("Voucher %(display_code)s is %(status)s.")
            % {
                "display_code": voucher.display_code,
                "status": voucher.get_status_display().lower(),
            },
            extra={"status": voucher.status},
        )


def _check_member(voucher: Voucher, member: Member | None) -> None:
    """A member-bound voucher is consumed only for its member (checked before any write)."""
    if not voucher.member_bound:
        return
    if member is None:
        raise VoucherMemberMismatch(
            _(
                "Voucher %(code)s can only be used by the member it was issued to: identify the "
                "member (card number) and try again."
            )
            % {"code": voucher.display_code},
            extra={"member_given": False},
        )
    if member.pk != voucher.member_id:
        raise VoucherMemberMismatch(
            _("Voucher %(code)s belongs to another member and cannot be used for %(number)s.")
            % {"code": voucher.display_code, "number": member.member_number},
            extra={"member_given": True, "member_number": member.member_number},
        )


@transaction.atomic(durable=True)
def voucher_consume(
    *,
    code: str,
    order_ref: str,
    actor: Any = None,
    channel: str = Redemption.Channel.STORE,
    store: Store | None = None,
    member: Member | None = None,
) -> Voucher:
    """Use a voucher against an order. Idempotent for the same order; refused for another one.
    A member-bound voucher needs `member` (who presents it) and only its own member passes.
    Raises VoucherNotFound, VoucherNotValid, VoucherUsedForOtherOrder, VoucherMemberMismatch."""
    order_ref = (order_ref or "").strip()
    if not order_ref:
        raise ValidationError({"order_ref": ["Give the order or receipt reference."]})
    voucher = _lock_voucher(voucher_find(code=code).pk)  # two tills: the second waits here
    if voucher.status == Voucher.Status.USED:
        if voucher.order_ref == order_ref:
            return voucher
        raise VoucherUsedForOtherOrder(
            _("Voucher %(display_code)s was already used for order %(order_ref)s.")
            % {"display_code": voucher.display_code, "order_ref": voucher.order_ref},
            extra={"order_ref": voucher.order_ref},
        )
    now = timezone.now()
    _usable(voucher, now)
    _check_member(voucher, member)
    voucher.status = Voucher.Status.USED
    voucher.used_at = now
    voucher.order_ref = order_ref[:100]
    voucher.used_channel = channel
    voucher.used_store = store
    voucher.used_by = _user(actor)
    voucher.save(
        update_fields=[
            "status",
            "used_at",
            "order_ref",
            "used_channel",
            "used_store",
            "used_by",
            "updated_at",
        ]
    )
    events.publish(
        "voucher.consumed",
        {
            "voucher": voucher.display_code,
            "member_id": voucher.member_id,
            "order_ref": voucher.order_ref,
            "used_at": now.isoformat(),
        },
    )
    return voucher


@transaction.atomic(durable=True)
def voucher_mark_used(*, voucher: Voucher, reason: str, actor: Any) -> Voucher:
    """Staff record a use that did not go through a till (e.g. a gift handed over by hand)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why the voucher is marked as used."]})
    voucher = _lock_voucher(voucher.pk)
    if voucher.status == Voucher.Status.USED:
        return voucher
    now = timezone.now()
    _usable(voucher, now)
    voucher.status = Voucher.Status.USED
    voucher.used_at = now
    voucher.used_channel = Redemption.Channel.ADMIN
    voucher.used_by = _user(actor)
    voucher.note = reason[:300]
    voucher.save(
        update_fields=["status", "used_at", "used_channel", "used_by", "note", "updated_at"]
    )
    return voucher


@transaction.atomic(durable=True)
def voucher_consume_undo(
    *, code: str, order_ref: str, reason: str = "", actor: Any = None
) -> Voucher:
    """The order was refunded: the voucher can be used again (catalogue reward), or, for points
    paid at the till, the points go back to the member. Only within the undo window and only for
    the order it was used for. Idempotent: undoing twice changes nothing more."""
    order_ref = (order_ref or "").strip()
    found = voucher_find(code=code)
    if found.member_id is not None:
        account = account_get_or_create(member=Member.objects.get(pk=found.member_id))
        lock_account(account.pk)
    voucher = _lock_voucher(found.pk)
    redemption = voucher.redemption
    undo_note = f"undone: {reason}".strip()[:300] if reason else "undone: order refunded"
    if voucher.status != Voucher.Status.USED:
        if voucher.note.startswith("undone") and voucher.order_ref == order_ref:
            return voucher  # already undone for this order
        raise VoucherNotValid(
            _("Voucher %(display_code)s is not used, so there is nothing to undo.")
            % {"display_code": voucher.display_code},
            extra={"status": voucher.status},
        )
    if voucher.order_ref != order_ref:
        raise VoucherUsedForOtherOrder(
            _("Voucher %(display_code)s was used for order %(order_ref)s, not %(order_ref2)s.")
            % {
                "display_code": voucher.display_code,
                "order_ref": voucher.order_ref,
                "order_ref2": order_ref,
            },
            extra={"order_ref": voucher.order_ref},
        )
    now = timezone.now()
    window = timedelta(days=rewards_settings_get().voucher_undo_window_days)
    if voucher.used_at is None or voucher.used_at + window < now:
        raise VoucherUndoWindowPassed(
            _("Voucher %(display_code)s was used more than %(days)s days ago.")
            % {"display_code": voucher.display_code, "days": window.days},
            extra={"used_at": voucher.used_at.isoformat() if voucher.used_at else None},
        )
    if redemption is not None and redemption.kind == Redemption.Kind.POINTS_PAYMENT:
        redemption = _lock_redemption(redemption.pk)
        _refund(redemption, reason=undo_note, actor=actor, now=now)
        voucher.status = Voucher.Status.CANCELLED
    else:
        voucher.status = Voucher.Status.ISSUED
        voucher.used_at = None
        voucher.used_by = None
        voucher.used_channel = ""
        voucher.used_store = None
    voucher.note = undo_note
    voucher.save(
        update_fields=[
            "status",
            "used_at",
            "used_by",
            "used_channel",
            "used_store",
            "note",
            "updated_at",
        ]
    )
    return voucher


@transaction.atomic(durable=True)
def voucher_expire_one(*, voucher_id: int, now: datetime) -> bool:
    """Expire one due voucher; give its points back if the reward says so. Safe to re-run."""
    found = Voucher.objects.filter(pk=voucher_id).values("member_id").first()
    if found is None:
        return False
    if found["member_id"] is not None:
        account = account_get_or_create(member=Member.objects.get(pk=found["member_id"]))
        lock_account(account.pk)
    voucher = _lock_voucher(voucher_id)
    if voucher.status != Voucher.Status.ISSUED or voucher.expires_at > now:
        return False
    redemption = voucher.redemption
    voucher.status = Voucher.Status.EXPIRED
    reward = redemption.reward if redemption is not None else None
    if redemption is not None and reward is not None and reward.refund_points_on_expiry:
        redemption = _lock_redemption(redemption.pk)
        _refund(redemption, reason="voucher expired unused", actor=None, now=now)
        voucher.note = "refunded on expiry"
    voucher.save(update_fields=["status", "note", "updated_at"])
    return True


def vouchers_expire_due(*, as_of: datetime | None = None, batch: int = 1000) -> int:
    """Expire every issued voucher past its date, one short transaction each (no long locks)."""
    now = as_of or timezone.now()
    expired = 0
    due = Voucher.objects.filter(status=Voucher.Status.ISSUED, expires_at__lte=now)
    last = 0
    while True:
        ids = list(due.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return expired
        for voucher_id in ids:
            expired += voucher_expire_one(voucher_id=voucher_id, now=now)
        last = ids[-1]


@transaction.atomic
def reward_low_stock_alert(*, reward_id: int) -> bool:
    """Mail staff once when a reward's stock reaches its threshold (again after a restock)."""
    reward = Reward.objects.select_for_update().filter(pk=reward_id).first()
    if reward is None or reward.low_stock_threshold is None or reward.stock is None:
        return False
    if reward.stock > reward.low_stock_threshold or reward.low_stock_alerted_at is not None:
        return False
    rules = rewards_settings_get()
    recipients = (
        [rules.low_stock_email] if rules.low_stock_email else [a[1] for a in settings.ADMINS]
    )
    if recipients:
        send_mail(
            subject=_("Low stock: %(name)s (%(stock)s left)")
            % {"name": reward.name, "stock": reward.stock},
            message=(
                _(
                    "The reward “%(name)s” (%(code)s) has %(stock)s left (alert level "
                    "%(low_stock_threshold)s). Restock it in the admin."
                )
                % {
                    "name": reward.name,
                    "code": reward.code,
                    "stock": reward.stock,
                    "low_stock_threshold": reward.low_stock_threshold,
                }
            ),
            from_email=None,
            recipient_list=recipients,
        )
    else:
        logger.warning(
            "reward %s is low on stock (%s left); no recipient", reward.code, reward.stock
        )
    reward.low_stock_alerted_at = timezone.now()
    reward.save(update_fields=["low_stock_alerted_at", "updated_at"])
    return True


def reward_low_stock_alerts_sweep() -> int:
    """Send every low-stock alert that is due and not sent (the broker never got it, or the
    mail failed): rewards at or below their threshold whose alert is not stamped. Each alert
    runs under the reward's row lock and stamps it, so an alert is mailed once however often
    this and the task run. Returns the number of alerts sent."""
    due = Reward.objects.filter(
        low_stock_threshold__isnull=False,
        stock__isnull=False,
        stock__lte=F("low_stock_threshold"),
        low_stock_alerted_at__isnull=True,
    ).order_by("pk")
    sent = 0
    for reward_id in due.values_list("pk", flat=True):
        try:
            sent += reward_low_stock_alert(reward_id=reward_id)
        except Exception:  # e.g. the mail server: the alert stays due for the next sweep
            logger.exception("low-stock alert for reward %s failed; retried later", reward_id)
    return sent


@transaction.atomic
def reward_restock(*, reward: Reward, quantity: int, actor: Any = None) -> Reward:
    """Add stock (F update, safe beside concurrent redemptions) and re-arm the low-stock alert."""
    if quantity <= 0:
        raise ValidationError({"quantity": ["Add at least one unit."]})
    Reward.objects.filter(pk=reward.pk).update(
        stock=F("stock") + quantity, low_stock_alerted_at=None
    )
    reward.refresh_from_db()
    return reward


@transaction.atomic
def reward_codes_upload(*, reward: Reward, codes: list[str], batch: str = "") -> dict[str, Any]:
    """Add partner codes to a reward's pool. Returns {added, duplicates, errors: [(row, msg)]}.
    Blank and over-long rows are reported; codes already in the pool are skipped."""
    if reward.kind != Reward.Kind.PARTNER_CODE:
        raise ValidationError({"reward": ["Only partner-voucher rewards have a code pool."]})
    errors: list[tuple[int, str]] = []
    wanted: dict[str, int] = {}
    for row, raw in enumerate(codes, start=1):
        code = (raw or "").strip()
        if not code:
            errors.append((row, "empty code"))
        elif len(code) > 100:
            errors.append((row, "longer than 100 characters"))
        elif any(ord(ch) < 32 for ch in code):
            errors.append((row, "contains control characters"))
        elif code in wanted:
            errors.append((row, f"repeats row {wanted[code]}"))
        else:
            wanted[code] = row
    existing = set(
        RewardCode.objects.filter(reward=reward, code__in=list(wanted)).values_list(
            "code", flat=True
        )
    )
    fresh = [
        RewardCode(reward=reward, code=c, batch=batch[:100]) for c in wanted if c not in existing
    ]
    RewardCode.objects.bulk_create(fresh, batch_size=1000)
    return {"added": len(fresh), "duplicates": len(existing), "errors": errors}


# --- pre-printed voucher batches -----------------------------------------------------------


MAX_BATCH_ROWS = 100_000


@dataclass
class BatchImportReport:
    batch: VoucherBatch | None
    added: int
    errors: list[tuple[int, str, str]]  # (row, the value as typed, why)


@transaction.atomic
def voucher_batch_import(
    *,
    name: str,
    reward: Reward,
    valid_until: date,
    codes: list[str],
    actor: Any,
    file_name: str = "",
) -> BatchImportReport:
    """Import pre-printed codes as unissued vouchers of `reward`, valid until the end of
    `valid_until` (programme time zone). All or nothing: a blank, malformed, repeated or
    already known code is reported by row number with the value typed, and nothing is written.
    Codes are stored upper case without spaces or dashes (tills may type them either way)."""
    errors: dict[str, list[str]] = {}
    if not (name or "").strip():
        errors["name"] = [_("Name the batch, e.g. 'Gift cards 2026'.")]
    if valid_until < timezone.now().astimezone(programme_zone()).date():
        errors["valid_until"] = [_("The last valid day is in the past.")]
    if len(codes) > MAX_BATCH_ROWS:
        errors["codes"] = [_("At most %(n)s codes per file; split it.") % {"n": MAX_BATCH_ROWS}]
    if errors:
        raise ValidationError(errors)
    problems: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    for row, raw in enumerate(codes, start=1):
        typed = str(raw or "").strip()[:40]
        code = printed_code_normalize(typed)
        if not typed:
            problems.append((row, typed, str(_("empty code"))))
        elif code is None:
            problems.append(
                (row, typed, str(_("not a code: use 6 to 20 letters and digits (dashes allowed)")))
            )
        elif code in seen:
            problems.append((row, typed, str(_("repeats row %(row)s") % {"row": seen[code]})))
        else:
            seen[code] = row
    known: set[str] = set()
    codes_list = list(seen)
    for offset in range(0, len(codes_list), 500):
        known.update(
            Voucher.objects.filter(code__in=codes_list[offset : offset + 500]).values_list(
                "code", flat=True
            )
        )
    problems += [
        (seen[code], code, str(_("already exists (another voucher has this code)")))
        for code in known
    ]
    problems.sort()
    if problems or not seen:
        if not seen and not problems:
            problems = [(0, "", str(_("the file holds no codes")))]
        return BatchImportReport(batch=None, added=0, errors=problems)
    batch = VoucherBatch(
        name=name.strip()[:120],
        reward=reward,
        valid_until=valid_until,
        file_name=file_name[:200],
        created_by=_user(actor),
    )
    batch.full_clean()
    batch.save()
    zone = programme_zone()
    expires_at = datetime.combine(valid_until + timedelta(days=1), time.min, tzinfo=zone)
    Voucher.objects.bulk_create(
        (
            Voucher(batch=batch, code=code, status=Voucher.Status.UNISSUED, expires_at=expires_at)
            for code in seen
        ),
        batch_size=1000,
    )
    return BatchImportReport(batch=batch, added=len(seen), errors=[])


def _lock_unissued(code: str) -> Voucher:
    voucher = _lock_voucher(voucher_find(code=code).pk)
    if voucher.batch_id is None:
        raise VoucherNotIssuable(
            _("Voucher %(code)s was issued by a redemption; only pre-printed ones can be.")
            % {"code": voucher.display_code},
            extra={"status": voucher.status},
        )
    return voucher


@transaction.atomic(durable=True)
def voucher_issue(*, code: str, member: Member, actor: Any, note: str = "") -> Voucher:
    """Give a pre-printed voucher to a member: from now on only that member may use it. The
    same member again is harmless; another member, or a sold voucher, is VoucherNotIssuable."""
    _require_active(member)
    voucher = _lock_unissued(code)
    if voucher.status != Voucher.Status.UNISSUED:
        if voucher.member_id == member.pk and voucher.member_bound:
            return voucher
        raise VoucherNotIssuable(
            _("Voucher %(code)s was already issued or sold.") % {"code": voucher.display_code},
            extra={"status": voucher.status},
        )
    now = timezone.now()
    voucher.status = Voucher.Status.ISSUED
    voucher.member = member
    voucher.member_bound = True
    voucher.issued_at = now
    voucher.note = (note or "").strip()[:300]
    voucher.save(
        update_fields=["status", "member", "member_bound", "issued_at", "note", "updated_at"]
    )
    events.publish(
        "voucher.issued",
        {
            "voucher": voucher.display_code,
            "member_id": member.pk,
            "member_number": member.member_number,
            "reward": voucher.batch.reward.code,  # type: ignore[union-attr]
            "points": 0,
            "expires_at": voucher.expires_at.isoformat(),
        },
    )
    return voucher


@transaction.atomic(durable=True)
def voucher_sell(*, code: str, sale_ref: str, actor: Any = None) -> Voucher:
    """A pre-printed voucher sold over the counter: anyone who holds it may use it. The same
    sale again is harmless; a voucher issued or sold before is VoucherNotIssuable."""
    sale_ref = (sale_ref or "").strip()
    if not sale_ref:
        raise ValidationError({"sale_ref": [_("Give the receipt number of the sale.")]})
    voucher = _lock_unissued(code)
    if voucher.status != Voucher.Status.UNISSUED:
        if voucher.sale_ref == sale_ref and voucher.member_id is None:
            return voucher
        raise VoucherNotIssuable(
            _("Voucher %(code)s was already issued or sold.") % {"code": voucher.display_code},
            extra={"status": voucher.status},
        )
    voucher.status = Voucher.Status.ISSUED
    voucher.member_bound = False
    voucher.issued_at = timezone.now()
    voucher.sale_ref = sale_ref[:100]
    voucher.save(update_fields=["status", "member_bound", "issued_at", "sale_ref", "updated_at"])
    return voucher


@transaction.atomic(durable=True)
def voucher_void(*, voucher: Voucher, reason: str, actor: Any = None) -> Voucher:
    """Cancel a pre-printed or given (gift) voucher that is not used (lost, damaged, given by
    mistake): no points are involved; a gift's unit of stock goes back."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the voucher is cancelled.")]})
    voucher = _lock_voucher(voucher.pk)
    if voucher.status == Voucher.Status.CANCELLED:
        return voucher
    if voucher.status == Voucher.Status.USED:
        raise VoucherAlreadyUsed(extra={"voucher": voucher.display_code})
    voucher.status = Voucher.Status.CANCELLED
    voucher.note = reason[:300]
    voucher.save(update_fields=["status", "note", "updated_at"])
    if voucher.gift_reward_id is not None:  # a gift took a unit of stock: give it back
        Reward.objects.filter(pk=voucher.gift_reward_id, stock__isnull=False).update(
            stock=F("stock") + 1
        )
    return voucher


def rewards_settings_update(*, data: dict[str, Any]) -> RewardsSettings:
    instance = rewards_settings_get()
    instance, _changed = model_update(
        instance=instance,
        fields=[
            "points_payment_minimum",
            "points_payment_step",
            "voucher_undo_window_days",
            "low_stock_email",
        ],
        data=data,
    )
    return instance
