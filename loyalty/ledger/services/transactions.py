"""Purchases and returns: recorded once per (channel, external id), points by the rules engine."""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.ledger import rules as engine
from loyalty.ledger.exceptions import (
    InvalidAmount,
    ReturnExceedsPurchase,
    TransactionConflict,
)
from loyalty.ledger.models import (
    EarningRule,
    LedgerEntry,
    PointsAccount,
    PointsLot,
    Transaction,
    TransactionLine,
)
from loyalty.ledger.policy import local_date, programme_settings_get
from loyalty.ledger.services.posting import (
    _Debit,
    _post_locked,
    _posted,
    account_lock_for_member,
    credit_lot_times,
    earned_in_period,
    points_event_publish,
)
from loyalty.ledger.services.rule_usage import (
    promo_code_get,
    rule_uses_left,
    rule_uses_record,
)
from loyalty.ledger.stats import purchase_stats_add
from members.exceptions import MemberNotActive

Kind = LedgerEntry.Kind
CENT = Decimal("0.01")
CLOCK_SKEW = timedelta(minutes=5)  # tills whose clocks run a little fast


@dataclass(frozen=True)
class LineInput:
    sku: str
    quantity: Decimal
    unit_price: Decimal
    category: str = ""
    amount: Decimal | None = None  # defaults to quantity x unit price

    def total(self) -> Decimal:
        return (
            self.amount if self.amount is not None else self.quantity * self.unit_price
        ).quantize(CENT)


@dataclass
class PostingResult:
    transaction: Transaction
    created: bool
    points_earned: int = 0
    points_reversed: int = 0
    points_refunded: int = 0
    points_pending: int = 0
    points_uncollected: int = 0  # return under the cap policy: already spent, not taken back
    entries: list[LedgerEntry] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    # the member's account as this posting left it (locked until commit): the API answers the
    # balance from it instead of reading it again; None for replays and anonymous customers
    account: PointsAccount | None = None


def _ctx(
    programme: Any,
    *,
    member: Any,
    channel: str,
    store: Any,
    occurred_at: datetime,
    amount: Decimal,
    paid_with_points: Decimal,
    lines: list[LineInput],
    promo: Any = None,
    tier_code: str = "",
) -> engine.EarningContext:
    return engine.EarningContext(
        member=member,
        channel=channel,
        store_code=store.code if store else None,
        occurred_at=occurred_at,
        local_date=local_date(programme, occurred_at),
        amount=amount,
        amount_paid_with_points=paid_with_points,
        lines=tuple(
            engine.EarningLine(
                sku=line.sku,
                category=line.category,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.total(),
            )
            for line in lines
        ),
        promo_code=promo.code if promo is not None else "",
        promo_rule_id=promo.rule_id if promo is not None else None,
        tier_code=tier_code,
    )


def _validate_money(amount: Decimal, occurred_at: datetime, *, allow_future: bool = False) -> None:
    errors = {}
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        errors["amount"] = ["A positive amount of money is required."]
    elif (
        not isinstance(exponent := amount.as_tuple().exponent, int)  # finite: always an int
        or exponent < -2
        or amount >= Decimal("1000000000")
    ):
        errors["amount"] = ["At most 2 decimals and less than 1,000,000,000."]
    if timezone.is_naive(occurred_at):
        errors["occurred_at"] = ["Give a time zone (e.g. 2026-11-23T10:00:00+00:00)."]
    elif not allow_future and occurred_at > timezone.now() + CLOCK_SKEW:
        errors["occurred_at"] = ["Cannot be in the future."]
    if errors:
        raise ValidationError(errors)


def _replay(existing: Transaction, *, kind: str, member: Any, amount: Decimal) -> PostingResult:
    """The same external transaction reported again: the first result, nothing changed."""
    if (
        existing.kind != kind
        or existing.member_id != (member.pk if member else None)
        or existing.amount != amount
    ):
        raise TransactionConflict(
            extra={
                "transaction_id": existing.pk,
                "kind": existing.kind,
                "amount": str(existing.amount),
            }
        )
    entries = list(
        LedgerEntry.objects.filter(
            source_type=f"{existing.kind}", source_id=str(existing.pk)
        ).order_by("pk")
    )
    return PostingResult(
        transaction=existing,
        created=False,
        points_earned=existing.points_earned,
        points_reversed=existing.points_reversed,
        points_refunded=existing.points_refunded,
        points_uncollected=existing.points_uncollected,
        entries=entries,
        rules=[r for e in entries for r in e.rules],
    )


def _lock_for(member: Any) -> PointsAccount | None:
    if member is None:
        return None
    return account_lock_for_member(member=member)


def _insert(txn: Transaction, lines: list[LineInput]) -> Transaction | None:
    """Insert the transaction, or return None if a concurrent request inserted it first."""
    # Field checks only: constraints (and the unique external id) are the database's job here,
    # and a lost race on the external id is the IntegrityError handled just below.
    txn.full_clean(
        exclude=["member", "store", "original", "created_by"],
        validate_unique=False,
        validate_constraints=False,
    )
    try:
        with transaction.atomic():
            txn.save()
    except IntegrityError:
        return None
    if txn.member_id is not None:  # the segments' read model, in the same transaction
        purchase_stats_add(
            member_id=txn.member_id,
            kind=txn.kind,
            amount=txn.amount,
            occurred_at=txn.occurred_at,
        )
    TransactionLine.objects.bulk_create(
        TransactionLine(
            transaction=txn,
            sku=line.sku,
            category=line.category,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.total(),
        )
        for line in lines
    )
    return txn


@transaction.atomic
def purchase_record(
    *,
    member: Any,
    channel: str,
    external_id: str,
    occurred_at: datetime,
    amount: Decimal,
    store: Any = None,
    lines: list[LineInput] | tuple[LineInput, ...] = (),
    points_spent: int = 0,
    customer_ref: str = "",
    actor: Any = None,
    promo_code: str = "",
) -> PostingResult:
    """Record a purchase and credit what the rules say. Idempotent on (channel, external_id):
    the same purchase again returns the first result; different content under the same id is a
    TransactionConflict. Points spent to pay part of it are redeemed in the same transaction and
    that part earns nothing. A promo code must exist and be usable (else ValidationError on
    `promo_code`); it counts as used when its rule applied. Usage caps of rules are counted
    under locks (services/rule_usage.py). Raises MemberNotActive, InsufficientPoints,
    ValidationError."""
    _validate_money(amount, occurred_at)
    lines = list(lines)
    locked = _lock_for(member)
    existing = Transaction.objects.filter(channel=channel, external_id=external_id).first()
    if existing is not None:
        return _replay(existing, kind=Transaction.Kind.PURCHASE, member=member, amount=amount)
    if member is not None and not member.is_active:
        raise MemberNotActive(extra={"member_id": member.pk, "status": member.status})
    programme = programme_settings_get()
    if points_spent < 0:
        raise ValidationError({"points_spent": ["Cannot be negative."]})
    if points_spent and member is None:
        raise ValidationError({"points_spent": ["Only a member can pay with points."]})
    paid_with_points = (Decimal(points_spent) * programme.point_value).quantize(CENT)
    if paid_with_points > amount:
        raise InvalidAmount(
            _("The points would pay more than the bill."),
            extra={
                "points_spent": points_spent,
                "worth": str(paid_with_points),
                "amount": str(amount),
            },
        )
    # after the replay check: replaying a purchase that used up a single-use code still works
    promo = (
        promo_code_get(code=promo_code, occurred_at=occurred_at, lock=locked is not None)
        if promo_code
        else None
    )
    earned = None
    rules: list[EarningRule] = []
    if locked is not None:
        # Evaluated before the insert, so the row is written once with its points (no UPDATE
        # after the entries). The engine only reads: a lost insert race below wastes nothing.
        ctx = _ctx(
            programme,
            member=member,
            channel=channel,
            store=store,
            occurred_at=occurred_at,
            amount=amount,
            paid_with_points=paid_with_points,
            lines=lines,
            promo=promo,
        )
        rules = engine.active_rules()
        earned = engine.evaluate(
            programme=programme,
            ctx=ctx,
            rules=rules,
            uses=rule_uses_left(programme=programme, rules=rules, ctx=ctx, lock=True),
            **_earned_for_caps(programme, locked, occurred_at, rules),
        )
    txn = Transaction(
        kind=Transaction.Kind.PURCHASE,
        channel=channel,
        external_id=external_id,
        member=member,
        store=store,
        occurred_at=occurred_at,
        amount=amount,
        currency=programme.currency,
        points_spent=points_spent,
        amount_paid_with_points=paid_with_points,
        customer_ref=customer_ref,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if earned is not None:
        txn.eligible_amount = earned.eligible_amount
        txn.points_earned = max(earned.points, 0) + sum(
            b.points for b in earned.bonuses if b.points > 0
        )
        txn.points_uncollected = earned.points_uncollected
        if promo is not None and promo.rule_id in earned.used_rules:
            txn.promo_code = promo
    if _insert(txn, lines) is None:
        existing = Transaction.objects.get(channel=channel, external_id=external_id)
        return _replay(existing, kind=Transaction.Kind.PURCHASE, member=member, amount=amount)
    result = PostingResult(transaction=txn, created=True, account=locked)
    if locked is None or earned is None:
        return result
    result.points_uncollected = earned.points_uncollected
    rule_uses_record(rules=rules, used=earned.used_rules, transaction=txn)

    source = {
        "source_type": "purchase",
        "source_id": str(txn.pk),
        "actor": actor,
        "effective_at": occurred_at,
    }
    # The entries' keys name a transaction inserted just now: none can exist yet, so the
    # posting skips its look-up of an earlier entry (the unique constraint still holds).
    if points_spent:
        result.entries.append(
            _posted(
                _post_locked(
                    locked,
                    amount=-points_spent,
                    kind=Kind.REDEEM,
                    idempotency_key=f"purchase:{txn.pk}:paid",
                    reason="paid part of the bill with points",
                    new_key=True,
                    **source,
                )
            )
        )
    available, expiry = credit_lot_times(programme, occurred_at, pending=True)
    credits = [(Kind.EARN, earned.points, "earn", "", earned.applied)] + [
        (Kind.BONUS, b.points, f"bonus:{b.source}", b.label, [b.explanation()])
        for b in earned.bonuses
    ]
    for kind, points, key, label, applied in credits:
        if points <= 0:
            continue
        entry = _posted(
            _post_locked(
                locked,
                amount=points,
                kind=kind,
                idempotency_key=f"purchase:{txn.pk}:{key}",
                rules=applied,
                reason=label,
                available_from=available,
                expires_at=expiry,
                new_key=True,
                **source,
            )
        )
        result.entries.append(entry)
        result.points_earned += points
    result.rules = earned.explanation()
    result.points_pending = result.points_earned if available > timezone.now() else 0
    purchase = {
        "transaction_id": txn.pk,
        "channel": channel,
        "store": store.code if store is not None else None,
        "external_id": external_id,
    }
    if points_spent:
        points_event_publish(
            "points.redeemed",
            member=member,
            points=points_spent,
            balance=locked.balance,
            occurred_at=occurred_at,
            source_type="purchase",
            source_id=str(txn.pk),
            **purchase,
        )
    if result.points_earned:
        points_event_publish(
            "points.earned",
            member=member,
            points=result.points_earned,
            balance=locked.balance,
            occurred_at=occurred_at,
            source_type="purchase",
            source_id=str(txn.pk),
            pending=result.points_pending > 0,
            **purchase,
        )
    # after the events above, so a tier gift a hook grants is announced after the purchase
    for hook in engine.AFTER_POSTING_HOOKS:
        hook(transaction=txn, result=result)
    return result


class _CapsEarned(TypedDict):
    earned_today: int
    earned_this_month: int


def _earned_for_caps(
    programme: Any, account: PointsAccount, occurred_at: datetime, rules: list[EarningRule]
) -> _CapsEarned:
    """What the account earned in the purchase's day and month, for the per-day and per-month
    cap rules: each sum is read only when an active rule caps that period (usually none)."""
    kinds = {rule.kind for rule in rules}
    day_start, month_start, month_end = _period_bounds(programme, occurred_at)
    earned: _CapsEarned = {"earned_today": 0, "earned_this_month": 0}
    if EarningRule.Kind.CAP_DAY in kinds:
        earned["earned_today"] = earned_in_period(
            account=account, start=day_start, end=day_start + timedelta(days=1)
        )
    if EarningRule.Kind.CAP_MONTH in kinds:
        earned["earned_this_month"] = earned_in_period(
            account=account, start=month_start, end=month_end
        )
    return earned


def _period_bounds(programme: Any, moment: datetime) -> tuple[datetime, datetime, datetime]:
    zone = ZoneInfo(programme.time_zone)
    day = moment.astimezone(zone).date()
    day_start = datetime.combine(day, time.min, tzinfo=zone)
    month_start = datetime.combine(day.replace(day=1), time.min, tzinfo=zone)
    next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day_start, month_start, datetime.combine(next_month, time.min, tzinfo=zone)


def _floor(value: Decimal) -> int:
    return int(value.quantize(Decimal("1"), rounding=ROUND_FLOOR))


@transaction.atomic
def return_record(
    *,
    channel: str,
    external_id: str,
    occurred_at: datetime,
    amount: Decimal,
    original: Transaction | None = None,
    member: Any = None,
    store: Any = None,
    lines: list[LineInput] | tuple[LineInput, ...] = (),
    actor: Any = None,
) -> PostingResult:
    """Record a return. Against a purchase: reverses its points in proportion to the amount
    returned (cumulatively floored, so several partial returns never reverse more than it earned)
    and gives back, in the same proportion, points spent on it. Without a purchase: reverses what
    the amount would earn at the base rate. Points already spent follow the return policy (debt by
    default, or cap-and-record). Idempotent on (channel, external_id)."""
    _validate_money(amount, occurred_at)
    if original is not None:
        if original.kind != Transaction.Kind.PURCHASE:
            raise ValidationError({"original": ["A return must refer to a purchase."]})
        if member is not None and member.pk != original.member_id:
            raise ValidationError({"member": ["The purchase belongs to another member."]})
        member = original.member
    locked = _lock_for(member)
    existing = Transaction.objects.filter(channel=channel, external_id=external_id).first()
    if existing is not None:
        return _replay(existing, kind=Transaction.Kind.RETURN, member=member, amount=amount)
    programme = programme_settings_get()

    to_reverse = to_refund = 0
    prefer: tuple[int, ...] = ()
    if original is not None:
        # lock order: the account first (above), then the purchase row, for every return path
        original = Transaction.objects.select_for_update().get(pk=original.pk)
        before = original.returns.aggregate(
            amount=Sum("amount"),
            reversed=Sum("points_reversed"),
            uncollected=Sum("points_uncollected"),
            refunded=Sum("points_refunded"),
        )
        returned = (before["amount"] or Decimal("0")) + amount
        if returned > original.amount:
            raise ReturnExceedsPurchase(
                extra={
                    "purchase_amount": str(original.amount),
                    "already_returned": str(before["amount"] or 0),
                    "requested": str(amount),
                }
            )
        share = returned / original.amount
        # what earlier returns took back or recorded as uncollectable (cap policy) both count
        to_reverse = _floor(original.points_earned * share) - (
            (before["reversed"] or 0) + (before["uncollected"] or 0)
        )
        to_refund = _floor(original.points_spent * share) - (before["refunded"] or 0)
        prefer = tuple(
            PointsLot.objects.filter(
                entry__source_type="purchase", entry__source_id=str(original.pk)
            ).values_list("pk", flat=True)
        )
    elif member is not None:
        to_reverse = _floor(amount * programme.points_per_unit)

    txn = Transaction(
        kind=Transaction.Kind.RETURN,
        channel=channel,
        external_id=external_id,
        member=member,
        store=store or (original.store if original else None),
        original=original,
        occurred_at=occurred_at,
        amount=amount,
        currency=programme.currency,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if _insert(txn, list(lines)) is None:
        existing = Transaction.objects.get(channel=channel, external_id=external_id)
        return _replay(existing, kind=Transaction.Kind.RETURN, member=member, amount=amount)
    result = PostingResult(transaction=txn, created=True)
    if locked is None:
        return result
    source = {
        "source_type": "return",
        "source_id": str(txn.pk),
        "actor": actor,
        "effective_at": occurred_at,
    }
    if to_reverse > 0:
        entry = _post_locked(
            locked,
            amount=-to_reverse,
            kind=Kind.REVERSAL,
            idempotency_key=f"return:{txn.pk}:reverse",
            reason="return" if original else "return without a purchase reference (base rate)",
            metadata={"original": original.pk if original else None},
            debit=_Debit(
                include_pending=True,
                prefer_lot_ids=prefer,
                shortfall=programme.return_policy,
                include_expired=True,
            ),
            **source,
        )
        if entry is not None:
            result.entries.append(entry)
            result.points_reversed = -entry.amount
        result.points_uncollected = to_reverse - result.points_reversed
    if to_refund > 0:
        now = timezone.now()
        entry = _posted(
            _post_locked(
                locked,
                amount=to_refund,
                kind=Kind.REFUND,
                idempotency_key=f"return:{txn.pk}:refund",
                reason="points spent on the returned goods",
                available_from=now,
                expires_at=credit_lot_times(programme, now, pending=False)[1],
                **source,
            )
        )
        result.entries.append(entry)
        result.points_refunded = to_refund
    txn.points_reversed = result.points_reversed
    txn.points_refunded = result.points_refunded
    txn.points_uncollected = result.points_uncollected
    txn.save(
        update_fields=["points_reversed", "points_refunded", "points_uncollected", "updated_at"]
    )
    for hook in engine.AFTER_POSTING_HOOKS:
        hook(transaction=txn, result=result)
    return result


def earn_quote(
    *,
    member: Any,
    channel: str,
    amount: Decimal,
    occurred_at: datetime | None = None,
    store: Any = None,
    lines: list[LineInput] | tuple[LineInput, ...] = (),
    points_spent: int = 0,
    promo_code: str = "",
    allow_future: bool = False,
    tier_code: str = "",
) -> engine.EarnResult:
    """What a basket would earn now, without writing anything. `allow_future`: the rule
    simulator asks what a basket would earn next Saturday (a real purchase cannot be future).
    `tier_code`: quote for a holder of that tier instead of a member (the simulator's "or tier":
    the tier's contributions apply, no member's caps count). Raises ValidationError for a bad
    amount or date, an unknown tier, or a member and a tier together."""
    occurred_at = occurred_at or timezone.now()
    _validate_money(amount, occurred_at, allow_future=allow_future)
    if tier_code and member is not None:
        raise ValidationError({"tier": ["Quote for a member or for a tier, not both."]})
    if tier_code and tier_code not in dict(engine.tier_choices()):
        raise ValidationError({"tier": [f"No tier with the code {tier_code!r}."]})
    programme = programme_settings_get()
    promo = (
        promo_code_get(code=promo_code, occurred_at=occurred_at, lock=False) if promo_code else None
    )
    paid = (Decimal(points_spent) * programme.point_value).quantize(CENT)
    ctx = _ctx(
        programme,
        member=member,
        channel=channel,
        store=store,
        occurred_at=occurred_at,
        amount=amount,
        paid_with_points=min(paid, amount),
        lines=list(lines),
        promo=promo,
        tier_code=tier_code,
    )
    today = month = 0
    account = PointsAccount.objects.filter(member=member).first() if member else None
    if account is not None:
        day_start, month_start, month_end = _period_bounds(programme, occurred_at)
        today = earned_in_period(
            account=account, start=day_start, end=day_start + timedelta(days=1)
        )
        month = earned_in_period(account=account, start=month_start, end=month_end)
    rules = engine.active_rules()
    return engine.evaluate(
        programme=programme,
        ctx=ctx,
        rules=rules,
        earned_today=today,
        earned_this_month=month,
        uses=rule_uses_left(programme=programme, rules=rules, ctx=ctx, lock=False),
    )
