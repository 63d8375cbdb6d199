"""The single write path of the ledger: every entry, lot and balance change goes through here."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.core import events
from loyalty.core.exceptions import IdempotencyKeyReused
from loyalty.ledger.exceptions import EntryAlreadyReversed, InsufficientPoints
from loyalty.ledger.locks import account_qs_for_update, lock_account
from loyalty.ledger.models import (
    LedgerEntry,
    LotAllocation,
    PointsAccount,
    PointsLot,
    ProgrammeSettings,
)
from loyalty.ledger.policy import available_from as pending_until
from loyalty.ledger.policy import expires_at as expiry_for
from loyalty.ledger.policy import programme_settings_get

Kind = LedgerEntry.Kind


def points_event_publish(
    event_type: str, *, member: Any, points: int, balance: int, occurred_at: datetime, **extra: Any
) -> None:
    """Announce points.earned / points.redeemed (sent after commit; docs/api.md, Webhooks)."""
    events.publish(
        event_type,
        {
            "member_id": member.pk,
            "member_number": member.member_number,
            "points": points,
            "balance": balance,
            **extra,
            "occurred_at": occurred_at.isoformat(),
        },
    )


def account_get_or_create(*, member: Any) -> PointsAccount:
    account, _ = PointsAccount.objects.get_or_create(member=member)
    return account


def account_lock_for_member(*, member: Any) -> PointsAccount:
    """The member's account, locked until commit: one statement when it exists (the usual
    case; reading it first and locking it by pk took two), created first otherwise."""
    locked = account_qs_for_update().filter(member_id=member.pk).first()
    if locked is None:
        locked = lock_account(account_get_or_create(member=member).pk)
    return locked


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


@dataclass
class _Debit:
    include_pending: bool = False  # may take points that are still pending (returns, staff)
    prefer_lot_ids: tuple[int, ...] = ()  # consumed first (a return takes its purchase's lots)
    shortfall: str = "refuse"  # "refuse" -> InsufficientPoints, "debt", or "cap"
    # lots past expiry that the nightly job has not expired yet: never spendable, but a return,
    # a reversal or a merge takes them (the points are being taken back anyway)
    include_expired: bool = False


def _open_lots(
    account: PointsAccount,
    *,
    now: datetime,
    include_pending: bool,
    prefer: tuple[int, ...],
    include_expired: bool = False,
) -> list[PointsLot]:
    lots = PointsLot.objects.filter(account=account, remaining__gt=0)
    if not include_pending:
        lots = lots.filter(available_from__lte=now)
    if not include_expired:
        lots = lots.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    ordered = sorted(
        lots,
        key=lambda lot: (
            lot.pk not in prefer,
            lot.available_from > now,  # available before pending
            lot.expires_at is None,  # soonest expiry first, no expiry last
            lot.expires_at or now,
            lot.pk,
        ),
    )
    return ordered


def _create_entry(
    locked: PointsAccount, *, amount: int, kind: str, key: str, **fields: Any
) -> LedgerEntry:
    entry = LedgerEntry(
        account=locked,
        amount=amount,
        kind=kind,
        idempotency_key=key,
        balance_after=locked.balance + amount,
        **fields,
    )
    # Field checks only: the database enforces every constraint of the entry (and Django would
    # spend one query per CheckConstraint to repeat them on this hot path).
    entry.full_clean(exclude=["account", "reverses", "created_by"], validate_constraints=False)
    entry.save()
    return entry


def _posted(entry: LedgerEntry | None) -> LedgerEntry:
    """The entry `_post_locked` posted for a caller that never asks for a capped debit."""
    if entry is None:
        raise RuntimeError("_post_locked returns None only for a debit under the cap policy.")
    return entry


def _post_locked(
    locked: PointsAccount,
    *,
    amount: int,
    kind: str,
    idempotency_key: str,
    source_type: str = "",
    source_id: str = "",
    actor: Any = None,
    reason: str = "",
    rules: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    reverses: LedgerEntry | None = None,
    effective_at: datetime | None = None,
    available_from: datetime | None = None,
    expires_at: datetime | None = None,
    debit: _Debit | None = None,
    restore_from: LedgerEntry | None = None,
    new_key: bool = False,
) -> LedgerEntry | None:
    """Post one entry on an account already locked by the caller (same transaction).

    `new_key`: the caller knows no entry can have this key yet (it names a row inserted in this
    transaction), so the look-up of an earlier entry is skipped; the unique constraint on
    (account, idempotency_key) still refuses a duplicate.
    Returns None only under the cap return policy when nothing at all could be taken back."""
    if amount == 0:
        raise ValidationError({"amount": ["A ledger entry moves at least one point."]})
    if not new_key:
        existing = LedgerEntry.objects.filter(
            account=locked, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing
    now = timezone.now()
    effective_at = effective_at or now
    metadata = dict(metadata or {})
    fields = {
        "source_type": source_type,
        "source_id": str(source_id),
        "created_by": _user(actor),
        "reason": reason,
        "rules": rules or [],
        "reverses": reverses,
        "effective_at": effective_at,
    }

    if amount > 0:
        entry = _create_entry(
            locked, amount=amount, kind=kind, key=idempotency_key, metadata=metadata, **fields
        )
        repaid = min(locked.debt, amount)  # debt is repaid before anything becomes spendable
        if restore_from is not None:
            _restore(entry, restore_from, amount - repaid, now)
        else:
            start = available_from or effective_at
            PointsLot.objects.create(
                account=locked,
                entry=entry,
                amount=amount,
                remaining=amount - repaid,
                available_from=start,
                expires_at=expires_at,
            )
        locked.balance += amount
        locked.debt -= repaid
        if kind in (Kind.EARN, Kind.BONUS):
            locked.lifetime_earned += amount
        locked.save(update_fields=["balance", "debt", "lifetime_earned", "updated_at"])
        return entry

    debit = debit or _Debit()
    wanted = -amount
    lots = _open_lots(
        locked,
        now=now,
        include_pending=debit.include_pending,
        prefer=debit.prefer_lot_ids,
        include_expired=debit.include_expired,
    )
    coverable = sum(lot.remaining for lot in lots)
    shortfall = max(wanted - coverable, 0)
    if shortfall and debit.shortfall == "refuse":
        raise InsufficientPoints(
            _("Only %(coverable)s points are available; %(wanted)s were requested.")
            % {"coverable": coverable, "wanted": wanted},
            extra={"available": coverable, "balance": locked.balance, "requested": wanted},
        )
    if shortfall and debit.shortfall == "cap":
        metadata["uncollected"] = shortfall
        wanted -= shortfall
        amount = -wanted
        if wanted == 0:
            return None  # nothing left to take back; the caller records the shortfall
    entry = _create_entry(
        locked, amount=amount, kind=kind, key=idempotency_key, metadata=metadata, **fields
    )
    left = wanted
    allocations, touched = [], []
    for lot in lots:
        if not left:
            break
        take = min(lot.remaining, left)
        lot.remaining -= take
        left -= take
        touched.append(lot)
        allocations.append(LotAllocation(entry=entry, lot=lot, points=take))
    PointsLot.objects.bulk_update(touched, ["remaining"])
    LotAllocation.objects.bulk_create(allocations)
    locked.balance += amount
    locked.debt += left  # only with the debt policy: points already spent, owed back
    locked.save(update_fields=["balance", "debt", "updated_at"])
    return entry


def _restore(entry: LedgerEntry, original: LedgerEntry, points: int, now: datetime) -> None:
    """Give points back to the lots the original debit took them from (a cancelled redemption).

    A lot whose expiry has passed meanwhile gets nothing back (it must never expire twice): those
    points go to a fresh lot, available now, expiring by the policy as any refund does."""
    allocations = list(original.allocations.select_related("lot").order_by("pk"))
    restored: list[LotAllocation] = []
    lots = []
    for allocation in allocations:
        if not points:
            break
        lot = allocation.lot
        if lot.expires_at is not None and lot.expires_at <= now:
            continue
        give = min(allocation.points, points, lot.amount - lot.remaining)
        if give <= 0:
            continue
        lot.remaining += give
        points -= give
        lots.append(lot)
        restored.append(LotAllocation(entry=entry, lot=lot, points=give))
    PointsLot.objects.bulk_update(lots, ["remaining"])
    LotAllocation.objects.bulk_create(restored)
    if points:
        PointsLot.objects.create(
            account=entry.account,
            entry=entry,
            amount=points,
            remaining=points,
            available_from=now,
            expires_at=expiry_for(programme_settings_get(), now),
        )


@transaction.atomic
def ledger_entry_post(
    *,
    account: PointsAccount,
    amount: int,
    kind: str,
    idempotency_key: str,
    source_type: str = "",
    source_id: str = "",
    actor: Any = None,
    reason: str = "",
    metadata: dict[str, Any] | None = None,
    available_from: datetime | None = None,
    expires_at: datetime | None = None,
) -> LedgerEntry:
    """Post one entry: locks the account row, idempotent on (account, idempotency_key).

    Credits create a lot (repaying any debt first); debits consume available lots soonest-expiry
    first and raise InsufficientPoints (409) when the available points do not cover them.
    """
    locked = lock_account(account.pk)
    return _posted(
        _post_locked(
            locked,
            amount=amount,
            kind=kind,
            idempotency_key=idempotency_key,
            source_type=source_type,
            source_id=source_id,
            actor=actor,
            reason=reason,
            metadata=metadata,
            available_from=available_from,
            expires_at=expires_at,
        )
    )


def credit_lot_times(
    programme: ProgrammeSettings, occurred_at: datetime, *, pending: bool
) -> tuple[datetime, datetime | None]:
    start = pending_until(programme, occurred_at) if pending else occurred_at
    start = max(start, occurred_at)
    return start, expiry_for(programme, start)


@transaction.atomic
def points_earn(
    *,
    member: Any,
    points: int,
    idempotency_key: str,
    kind: str = Kind.BONUS,
    source_type: str = "",
    source_id: str = "",
    reason: str = "",
    actor: Any = None,
    occurred_at: datetime | None = None,
    pending: bool = False,
    metadata: dict[str, Any] | None = None,
) -> LedgerEntry:
    """Credit points outside a purchase (campaign bonus, tier gift, referral...). Idempotent."""
    if points <= 0:
        raise ValidationError({"points": ["Credit a positive whole number of points."]})
    programme = programme_settings_get()
    occurred_at = occurred_at or timezone.now()
    start, expiry = credit_lot_times(programme, occurred_at, pending=pending)
    locked = account_lock_for_member(member=member)
    before = locked.balance
    entry = _posted(
        _post_locked(
            locked,
            amount=points,
            kind=kind,
            idempotency_key=idempotency_key,
            source_type=source_type,
            source_id=source_id,
            actor=actor,
            reason=reason,
            metadata=metadata,
            effective_at=occurred_at,
            available_from=start,
            expires_at=expiry,
        )
    )
    if locked.balance != before:  # posted now, not a replay of the same key
        points_event_publish(
            "points.earned",
            member=member,
            points=points,
            balance=locked.balance,
            occurred_at=occurred_at,
            kind=kind,
            source_type=source_type,
            source_id=str(source_id),
            entry_id=entry.pk if entry else None,
            pending=start > timezone.now(),
        )
    return entry


def points_earn_locked(
    *,
    account: PointsAccount,
    member: Any,
    points: int,
    idempotency_key: str,
    kind: str = Kind.BONUS,
    source_type: str = "",
    source_id: str = "",
    reason: str = "",
    occurred_at: datetime,
    pending: bool = False,
    metadata: dict[str, Any] | None = None,
) -> LedgerEntry:
    """`points_earn` for a caller inside a purchase's posting: `account` is the member's account
    it holds locked in this transaction, and `idempotency_key` names a row inserted in this
    transaction (no earlier entry can have it; the unique constraint still refuses a duplicate).
    No savepoint, no second lock, no look-up of the key: 4 statements instead of 9 (campaign
    bonuses on the purchase path, docs/performance.md)."""
    if points <= 0:
        raise ValidationError({"points": ["Credit a positive whole number of points."]})
    start, expiry = credit_lot_times(programme_settings_get(), occurred_at, pending=pending)
    entry = _posted(
        _post_locked(
            account,
            amount=points,
            kind=kind,
            idempotency_key=idempotency_key,
            source_type=source_type,
            source_id=source_id,
            reason=reason,
            metadata=metadata,
            effective_at=occurred_at,
            available_from=start,
            expires_at=expiry,
            new_key=True,
        )
    )
    points_event_publish(
        "points.earned",
        member=member,
        points=points,
        balance=account.balance,
        occurred_at=occurred_at,
        kind=kind,
        source_type=source_type,
        source_id=str(source_id),
        entry_id=entry.pk,
        pending=start > timezone.now(),
    )
    return entry


@transaction.atomic
def points_redeem(
    *,
    member: Any,
    points: int,
    source_type: str,
    source_id: str,
    idempotency_key: str,
    actor: Any = None,
    reason: str = "",
) -> LedgerEntry:
    """Spend available points (never pending ones). Raises InsufficientPoints; idempotent."""
    if points <= 0:
        raise ValidationError({"points": ["Redeem a positive whole number of points."]})
    locked = account_lock_for_member(member=member)
    before = locked.balance
    entry = _posted(
        _post_locked(
            locked,
            amount=-points,
            kind=Kind.REDEEM,
            idempotency_key=idempotency_key,
            source_type=source_type,
            source_id=source_id,
            actor=actor,
            reason=reason,
        )
    )
    if locked.balance != before:  # posted now, not a replay of the same key
        points_event_publish(
            "points.redeemed",
            member=member,
            points=points,
            balance=locked.balance,
            occurred_at=entry.effective_at if entry else timezone.now(),
            source_type=source_type,
            source_id=str(source_id),
            entry_id=entry.pk if entry else None,
        )
    return entry


@transaction.atomic
def points_adjust(
    *,
    member: Any,
    points: int,
    reason: str,
    actor: Any,
    idempotency_key: str,
    source_type: str = "adjustment",
    source_id: str = "",
) -> LedgerEntry:
    """A manual correction by staff: attributed, with a mandatory reason. A negative adjustment
    may take pending points too but never more than the member has. `source_type`/`source_id`
    name what it answers when it is not a bare correction (e.g. "feedback", "12": a goodwill
    gesture for a complaint)."""
    errors = {}
    if not reason or not reason.strip():
        errors["reason"] = ["Say why the points are adjusted."]
    if not points:
        errors["points"] = ["Adjust by at least one point."]
    if _user(actor) is None:
        errors["actor"] = ["An adjustment must be made by a signed-in staff user."]
    if errors:
        raise ValidationError(errors)
    programme = programme_settings_get()
    now = timezone.now()
    locked = account_lock_for_member(member=member)
    first = LedgerEntry.objects.filter(account=locked, idempotency_key=idempotency_key).first()
    if first is not None and (first.kind, first.amount, first.reason) != (
        Kind.ADJUST,
        points,
        reason.strip(),
    ):
        # the same key for a different adjustment: refused, never answered with the first one
        raise IdempotencyKeyReused(extra={"entry": first.pk, "idempotency_key": idempotency_key})
    return _posted(
        _posted(
            _post_locked(
                locked,
                amount=points,
                kind=Kind.ADJUST,
                idempotency_key=idempotency_key,
                source_type=source_type,
                source_id=source_id,
                actor=actor,
                reason=reason.strip(),
                available_from=now,
                expires_at=expiry_for(programme, now) if points > 0 else None,
                debit=_Debit(include_pending=True),
            )
        )
    )


@transaction.atomic
def points_opening_balance(
    *,
    member: Any,
    points: int,
    idempotency_key: str,
    actor: Any = None,
    reason: str = "",
    expires_at: datetime | None = None,
) -> LedgerEntry:
    """Carry a balance over from another system (available at once, expiry per policy unless given)."""
    if points <= 0:
        raise ValidationError({"points": ["An opening balance is a positive number of points."]})
    programme = programme_settings_get()
    now = timezone.now()
    return _posted(
        _post_locked(
            account_lock_for_member(member=member),
            amount=points,
            kind=Kind.OPENING_BALANCE,
            idempotency_key=idempotency_key,
            source_type="migration",
            actor=actor,
            reason=reason or "opening balance",
            available_from=now,
            expires_at=expires_at or expiry_for(programme, now),
        )
    )


@transaction.atomic
def ledger_entry_reverse(
    *, entry: LedgerEntry, reason: str, actor: Any = None, idempotency_key: str | None = None
) -> LedgerEntry | None:
    """Undo a whole entry with a new one pointing at it (at most once).

    None only when a credit is reversed under the cap return policy and nothing could be taken back.

    A redemption comes back as a REFUND into the very lots it consumed; a credit is taken back
    as a REVERSAL from its own lot first (debt policy if the points were spent).
    """
    locked = lock_account(entry.account_id)
    key = idempotency_key or f"reverse:{entry.pk}"
    already = LedgerEntry.objects.filter(reverses=entry).first()
    if already is not None:
        if already.idempotency_key == key:
            return already
        raise EntryAlreadyReversed(extra={"entry": entry.pk, "reversed_by": already.pk})
    if entry.kind == Kind.REDEEM:
        return _post_locked(
            locked,
            amount=-entry.amount,
            kind=Kind.REFUND,
            idempotency_key=key,
            source_type=entry.source_type,
            source_id=entry.source_id,
            actor=actor,
            reason=reason,
            reverses=entry,
            restore_from=entry,
        )
    if entry.amount > 0 and entry.kind != Kind.REFUND:
        programme = programme_settings_get()
        lot_ids = tuple(PointsLot.objects.filter(entry=entry).values_list("pk", flat=True))
        return _post_locked(
            locked,
            amount=-entry.amount,
            kind=Kind.REVERSAL,
            idempotency_key=key,
            source_type=entry.source_type,
            source_id=entry.source_id,
            actor=actor,
            reason=reason,
            reverses=entry,
            debit=_Debit(
                include_pending=True,
                prefer_lot_ids=lot_ids,
                shortfall=programme.return_policy,
                include_expired=True,
            ),
        )
    raise EntryAlreadyReversed(
        _("A %(kind)s entry cannot be reversed; adjust instead.")
        % {"kind": entry.get_kind_display().lower()},
        extra={"entry": entry.pk},
    )


def earned_in_period(*, account: PointsAccount, start: datetime, end: datetime) -> int:
    total = LedgerEntry.objects.filter(
        Q(kind=Kind.EARN), account=account, effective_at__gte=start, effective_at__lt=end
    ).aggregate(total=Sum("amount"))["total"]
    return int(total or 0)
