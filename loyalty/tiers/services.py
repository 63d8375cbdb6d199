"""Tier writes: manual assignment, upgrades on posting, the period-end job and recalculation.

Rules (docs/tiers.md has the long form):
- upgrades happen at once, when the qualifying value in the current window meets a threshold
  (tier_evaluate_member, called by the ledger inside the posting transaction);
- downgrades happen only in the period-end job: the window that just closed is judged; a member
  who fell short drops (by at most one tier if the policy says so), after `grace_days` if set;
  a member who requalifies during the grace keeps the tier;
- a manual tier with an end date is not judged before the first period end on or after that
  date; a manual tier without an end date is kept until staff change it (upgrades still apply);
- every change closes the current row and opens a new one; one current row per member is
  enforced by the database.
"""

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.core import events
from loyalty.core.bulkwrite import insert_rows, model_columns
from loyalty.core.services import model_update
from loyalty.ledger.models import LedgerEntry
from loyalty.ledger.services import points_earn
from loyalty.tiers.exceptions import TierChangedConcurrently, TierConfigurationError
from loyalty.tiers.models import Tier, TierAssignment, TierFloor, TierPolicy
from loyalty.tiers.qualifying import (
    GIFT_SOURCE,
    MemberRef,
    closed_windows,
    current_windows,
    local_midnight,
    local_today,
    member_refs,
    programme_zone,
    qualifying_values,
    values_in_windows,
)
from loyalty.tiers.selectors import tier_ladder, tier_policy_get
from loyalty.tiers.windows import last_period_end, period_end_for
from members.exceptions import MemberNotActive
from members.models import Member

Reason = TierAssignment.Reason
Mode = TierPolicy.DowngradeMode
Progress = Callable[[int], None]
BATCH = 1000


def _tier_changed_publish(
    *, member_id: int, member_number: str, old: Tier | None, new: Tier, reason: str, at: datetime
) -> None:
    """tier.changed, recorded with the change, sent after commit (docs/api.md, Webhooks)."""
    events.publish(
        "tier.changed",
        _tier_changed_payload(
            member_id=member_id, member_number=member_number, old=old, new=new, reason=reason, at=at
        ),
    )


def _tier_changed_payload(
    *, member_id: int, member_number: str, old: Tier | None, new: Tier, reason: str, at: datetime
) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "member_number": member_number,
        "from_tier": old.code if old else None,
        "to_tier": new.code,
        "direction": "up" if old is None or new.rank > old.rank else "down",
        "reason": reason,
        "occurred_at": at.isoformat(),
    }


# ---------------------------------------------------------------------------------------- ladder


def tier_ladder_checked() -> list[Tier]:
    """All tiers by rank; raises TierConfigurationError unless thresholds grow strictly."""
    ladder = tier_ladder()
    for lower, higher in pairwise(ladder):
        if higher.threshold <= lower.threshold:
            raise TierConfigurationError(
                _("%(name)s (rank %(rank)s) needs a higher threshold than %(name2)s.")
                % {"name": higher.name, "rank": higher.rank, "name2": lower.name},
                extra={"tier": higher.code, "threshold": str(higher.threshold)},
            )
    if ladder and ladder[0].threshold != 0:
        raise TierConfigurationError(
            _("The lowest tier is the entry tier and needs a threshold of 0."),
            extra={"tier": ladder[0].code},
        )
    return ladder


def tier_for_value(ladder: list[Tier], value: Decimal) -> Tier:
    """The highest tier whose threshold the value meets or exceeds."""
    reached = ladder[0]
    for tier in ladder:
        if value >= tier.threshold:
            reached = tier
    return reached


def _at_least(tier: Tier, floor: Tier | None) -> Tier:
    """`tier`, or the member's floor tier when that is higher."""
    return floor if floor is not None and floor.rank > tier.rank else tier


def _floors(tiers: dict[int, Tier], member_ids: list[int] | None = None) -> dict[int, Tier]:
    """member id -> floor tier (floors are few: staff and partners)."""
    qs = TierFloor.objects.all()
    if member_ids is not None:
        qs = qs.filter(member_id__in=member_ids)
    return {
        member_id: tiers[tier_id] for member_id, tier_id in qs.values_list("member_id", "tier_id")
    }


def _values_now(
    refs: list[MemberRef], *, policy: TierPolicy, zone: Any, today: date
) -> dict[int, Decimal]:
    """The value that counts now: the better of the current window and the last closed one
    (recalculation and the immediate downgrade mode judge on it)."""
    now_values = values_in_windows(
        basis=policy.basis,
        windows=current_windows(kind=policy.window, refs=refs, today=today),
        zone=zone,
    )
    ends = {
        ref.id: end
        for ref in refs
        if (end := last_period_end(policy.window, as_of=today, enrolled_on=ref.enrolled_on))
    }
    closed_refs = [ref for ref in refs if ref.id in ends]
    closed_values = values_in_windows(
        basis=policy.basis,
        windows=closed_windows(kind=policy.window, refs=closed_refs, period_ends=ends),
        zone=zone,
    )
    return {
        ref.id: max(now_values[ref.id], closed_values.get(ref.id, Decimal("0"))) for ref in refs
    }


# --------------------------------------------------------------------------------------- helpers


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _current_for_update(member_id: int) -> TierAssignment | None:
    """The member's current row, locked. If a concurrent writer just replaced it, the locking
    read finds the closed row no longer current; a second read sees the committed new one."""
    qs = (
        TierAssignment.objects.select_for_update(of=("self",))
        .select_related("tier")
        .filter(member_id=member_id, valid_to__isnull=True)
    )
    current = qs.first()
    if current is None:
        current = qs.first()
    return current


def _open(
    *,
    member_id: int,
    tier: Tier,
    previous: TierAssignment | None,
    reason: str,
    now: datetime,
    value: Decimal | None = None,
    actor: Any = None,
    note: str = "",
    manual_until: date | None = None,
    judged_through: date | None = None,
) -> TierAssignment:
    if previous is not None:
        model_update(instance=previous, fields=["valid_to"], data={"valid_to": now})
    row = TierAssignment(
        member_id=member_id,
        tier=tier,
        previous_tier=previous.tier if previous else None,
        reason=reason,
        valid_from=now,
        qualifying_value=value,
        note=note[:255],
        actor=_user(actor),
        manual_until=manual_until,
        judged_through=judged_through,
    )
    row.full_clean(exclude=["member", "actor"], validate_constraints=False)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as exc:
        raise TierChangedConcurrently(extra={"member_id": member_id}) from exc
    return row


def _give_gift(*, member: Any, tier: Tier, actor: Any = None) -> LedgerEntry | None:
    """The one-off entry gift of a tier: once per member and tier, ever (idempotency key)."""
    if not tier.entry_gift_points:
        return None
    return points_earn(
        member=member,
        points=tier.entry_gift_points,
        idempotency_key=f"tier-gift:{member.pk}:{tier.pk}",
        kind=LedgerEntry.Kind.BONUS,
        source_type=GIFT_SOURCE,
        source_id=str(tier.pk),
        reason=f"Welcome to {tier.name}",
        actor=actor,
        metadata={"tier": tier.code},
    )


# ------------------------------------------------------------------------------ enrolment


def tier_members_enrolled(*, members: Any, actor: Any = None) -> int:
    """members.hooks enrol hook: new members start in the entry tier (the lowest rank), reason
    "enrolment", one insert for the batch (an import's thousands) and one tier.changed event
    each, as the nightly job's entry assignment would give them later. No entry gift (the
    upgrade path gives gifts). Without tiers nothing is done. Returns the rows written."""
    entry = Tier.objects.order_by("rank").first()
    if entry is None or not members:
        return 0
    now = timezone.now()
    actor_id = _user(actor).pk if _user(actor) is not None else None
    columns, defaults = model_columns(TierAssignment)
    values = {
        **defaults,
        "created_at": now,
        "updated_at": now,
        "tier_id": entry.pk,
        "reason": Reason.ENROLMENT,
        "valid_from": now,
        "note": "entry tier",
        "actor_id": actor_id,
    }
    written = insert_rows(
        TierAssignment,
        columns,
        ([m.id if c == "member_id" else values[c] for c in columns] for m in members),
    )
    events.publish_many(
        "tier.changed",
        [
            _tier_changed_payload(
                member_id=m.id,
                member_number=m.member_number,
                old=None,
                new=entry,
                reason=Reason.ENROLMENT,
                at=now,
            )
            for m in members
        ],
    )
    return written


# ------------------------------------------------------------------------------ manual and posts


@transaction.atomic
def tier_assign(
    *,
    member: Member,
    tier: Tier,
    reason: str,
    actor: Any,
    manual_until: date | None = None,
    kind: str = Reason.MANUAL,
    give_gift: bool = False,
) -> TierAssignment:
    """Staff set a member's tier (kind "manual") or an import carries one over ("import").

    `reason` is mandatory and kept on the row with the actor. With `manual_until` the job does
    not downgrade the member before the first period end on or after that date; without it the
    manual tier stays until staff change it. No entry gift unless `give_gift` (and then only
    when the new tier is higher than the old one, once per tier)."""
    zone = programme_zone()
    today = local_today(zone)
    errors: dict[str, list[str]] = {}
    if not reason or not reason.strip():
        errors["reason"] = ["Say why the tier is set by hand."]
    if kind not in (Reason.MANUAL, Reason.IMPORT):
        errors["kind"] = ["Only manual or import assignments can be made here."]
    if manual_until is not None and manual_until <= today:
        errors["manual_until"] = ["The end date must be in the future."]
    if kind == Reason.MANUAL and _user(actor) is None:
        errors["actor"] = ["A manual tier must be set by a signed-in staff user."]
    if errors:
        raise ValidationError(errors)
    if member.status == Member.Status.CLOSED:
        raise MemberNotActive(extra={"member_id": member.pk, "status": member.status})
    current = _current_for_update(member.pk)
    if (
        kind == Reason.IMPORT
        and current is not None
        and current.tier_id == tier.pk
        and current.reason == Reason.IMPORT
    ):
        return current  # the same import again changes nothing
    value = qualifying_values(members=[member], policy=tier_policy_get(), today=today, zone=zone)
    row = _open(
        member_id=member.pk,
        tier=tier,
        previous=current,
        reason=kind,
        now=timezone.now(),
        value=value[member.pk],
        actor=actor,
        note=reason.strip(),
        manual_until=manual_until,
    )
    if current is None or current.tier_id != tier.pk:
        _tier_changed_publish(
            member_id=member.pk,
            member_number=member.member_number,
            old=current.tier if current else None,
            new=tier,
            reason=kind,
            at=row.valid_from,
        )
    if give_gift and (current is None or tier.rank > current.tier.rank):
        _give_gift(member=member, tier=tier, actor=actor)
    return row


def tier_evaluate_member(
    *, member: Member, actor: Any = None, imported: bool = False, downgrade: bool = False
) -> TierAssignment | None:
    """Upgrade only: if the qualifying value in the current window meets a higher tier's
    threshold, move the member there now (reason "threshold") and give that tier's entry gift.
    A member who requalifies for the current tier during a grace period keeps it. With
    `imported` (historical transactions loaded by an import) the reason is "import" and no gift
    is given. With `downgrade` (a return posted while the policy's mode is "immediate") a
    member whose value fell below their tier moves down at once (reason "value_fell"), never
    below their floor. Returns the current row (None when the programme has no tiers).

    Inside a caller's transaction (the posting hook) it takes no savepoint of its own (two round
    trips fewer per purchase): the only refusal it raises, TierConfigurationError, comes from
    the ladder check before any write, and a lost insert race is retried under the insert's own
    savepoint (`_open`)."""
    if transaction.get_connection().in_atomic_block:
        return _evaluate_retrying(
            member=member, actor=actor, imported=imported, downgrade=downgrade
        )
    with transaction.atomic():
        return _evaluate_retrying(
            member=member, actor=actor, imported=imported, downgrade=downgrade
        )


def _evaluate_retrying(
    *, member: Member, actor: Any, imported: bool, downgrade: bool
) -> TierAssignment | None:
    try:
        return _evaluate_member(member=member, actor=actor, imported=imported, downgrade=downgrade)
    except TierChangedConcurrently:
        # a member without a row got one from a concurrent writer: judge again against it
        return _evaluate_member(member=member, actor=actor, imported=imported, downgrade=downgrade)


def _evaluate_member(
    *, member: Member, actor: Any, imported: bool, downgrade: bool = False
) -> TierAssignment | None:
    ladder = tier_ladder_checked()
    if not ladder:
        return None
    current = _current_for_update(member.pk)
    if (
        current is not None
        and current.tier.rank >= ladder[-1].rank
        and current.downgrade_due_on is None
        and not downgrade
    ):
        # already at the top with no downgrade pending: no value can change anything, so the
        # window's sum (and the settings and policy reads it needs) is skipped
        return current
    zone = programme_zone()
    policy = tier_policy_get()
    immediate = downgrade and policy.downgrade_mode == Mode.IMMEDIATE
    if immediate:
        today = local_today(zone)
        value = _values_now(member_refs([member], zone), policy=policy, zone=zone, today=today)[
            member.pk
        ]
    else:
        value = qualifying_values(members=[member], policy=policy, zone=zone)[member.pk]
    reached = tier_for_value(ladder, value)
    floor = None
    if current is None or (immediate and reached.rank < current.tier.rank):
        # the floor matters only for a first tier or a fall (floors raise members when set)
        floor_row = TierFloor.objects.select_related("tier").filter(member_id=member.pk).first()
        floor = floor_row.tier if floor_row else None
        reached = _at_least(reached, floor)
    if current is not None and reached.rank < current.tier.rank and immediate:
        protected = current.reason == Reason.MANUAL and (
            current.manual_until is None or current.manual_until > local_today(zone)
        )
        if not protected:
            row = _open(
                member_id=member.pk,
                tier=reached,
                previous=current,
                reason=Reason.VALUE_FELL,
                now=timezone.now(),
                value=value,
                actor=actor,
            )
            _tier_changed_publish(
                member_id=member.pk,
                member_number=member.member_number,
                old=current.tier,
                new=reached,
                reason=row.reason,
                at=row.valid_from,
            )
            return row
    if current is not None and reached.rank <= current.tier.rank:
        if current.downgrade_due_on is not None and reached.rank >= current.tier.rank:
            model_update(
                instance=current,
                fields=["downgrade_due_on", "downgrade_to"],
                data={"downgrade_due_on": None, "downgrade_to": None},
            )
        return current
    is_upgrade = reached.rank > ladder[0].rank
    reason = Reason.THRESHOLD if is_upgrade else Reason.ENROLMENT
    if floor is not None and reached.pk == floor.pk and value < reached.threshold:
        reason = Reason.FLOOR  # raised by the floor, not by the value
    row = _open(
        member_id=member.pk,
        tier=reached,
        previous=current,
        reason=Reason.IMPORT if imported else reason,
        now=timezone.now(),
        value=value,
        actor=actor,
    )
    _tier_changed_publish(
        member_id=member.pk,
        member_number=member.member_number,
        old=current.tier if current else None,
        new=reached,
        reason=row.reason,
        at=row.valid_from,
    )
    if is_upgrade and not imported and row.reason != Reason.FLOOR:
        _give_gift(member=member, tier=reached, actor=actor)
    return row


# ------------------------------------------------------------------------------------ floor tier


@transaction.atomic
def tier_floor_set(*, member: Member, tier: Tier, reason: str, actor: Any) -> TierFloor:
    """Give a member a floor tier (staff, partners keep at least Gold). Refused above the
    policy's highest floor tier. A member below the floor is raised to it at once (reason
    "floor", no entry gift); the floor then holds at every downgrade."""
    errors: dict[str, list[str]] = {}
    if not reason or not reason.strip():
        errors["reason"] = [_("Say why the member keeps this tier.")]
    if _user(actor) is None:
        errors["set_by"] = [_("A floor tier must be set by a signed-in staff user.")]
    cap = tier_policy_get().floor_max_tier
    if cap is not None and tier.rank > cap.rank:
        errors["tier"] = [
            _("%(tier)s is above the highest floor tier of the programme (%(cap)s).")
            % {"tier": tier.name, "cap": cap.name}
        ]
    if errors:
        raise ValidationError(errors)
    if member.status == Member.Status.CLOSED:
        raise MemberNotActive(extra={"member_id": member.pk, "status": member.status})
    floor, _created = TierFloor.objects.select_for_update().get_or_create(
        member=member,
        defaults={"tier": tier, "reason": reason.strip()[:255], "set_by": _user(actor)},
    )
    if not _created:
        model_update(
            instance=floor,
            fields=["tier", "reason", "set_by"],
            data={"tier": tier, "reason": reason.strip()[:255], "set_by": _user(actor)},
        )
    current = _current_for_update(member.pk)
    if current is None or current.tier.rank < tier.rank:
        row = _open(
            member_id=member.pk,
            tier=tier,
            previous=current,
            reason=Reason.FLOOR,
            now=timezone.now(),
            actor=actor,
            note=reason.strip(),
        )
        _tier_changed_publish(
            member_id=member.pk,
            member_number=member.member_number,
            old=current.tier if current else None,
            new=tier,
            reason=row.reason,
            at=row.valid_from,
        )
    elif (
        current.downgrade_due_on is not None
        and current.downgrade_to is not None
        and current.downgrade_to.rank < tier.rank  # a pending downgrade below the new floor
    ):
        target = tier if tier.rank < current.tier.rank else None
        model_update(
            instance=current,
            fields=["downgrade_due_on", "downgrade_to"],
            data={
                "downgrade_due_on": current.downgrade_due_on if target else None,
                "downgrade_to": target,
            },
        )
    return floor


@transaction.atomic
def tier_floor_remove(*, floor: TierFloor, actor: Any) -> None:
    """Take a member's floor away (the history keeps who and when). The member keeps their tier
    until they are next judged."""
    floor.delete()


@transaction.atomic
def tier_member_merge(*, source: Member, target: Member, actor: Any = None) -> None:
    """Members' merge hook (inside the merge transaction): the duplicate's current row is closed
    and the survivor keeps the better of the two tiers. A tier taken over from the duplicate is
    protected like a manual tier until the survivor's next period end, then judged on the
    survivor's own qualifying value. Idempotent: a second call finds no current row to move."""
    rows = {
        row.member_id: row
        for row in TierAssignment.objects.select_for_update(of=("self",))
        .select_related("tier")
        .filter(member_id__in=[source.pk, target.pk], valid_to__isnull=True)
        .order_by("member_id")
    }
    moving, keeping = rows.get(source.pk), rows.get(target.pk)
    if moving is None:
        return
    now = timezone.now()
    model_update(instance=moving, fields=["valid_to"], data={"valid_to": now})
    if keeping is not None and keeping.tier.rank >= moving.tier.rank:
        return
    zone = programme_zone()
    policy = tier_policy_get()
    period_end = period_end_for(
        policy.window,
        today=local_today(zone),
        enrolled_on=target.enrolled_at.astimezone(zone).date(),
    )
    _open(
        member_id=target.pk,
        tier=moving.tier,
        previous=keeping,
        reason=Reason.MANUAL,
        now=now,
        actor=actor,
        note=f"kept from merged member {source.member_number}",
        manual_until=period_end,
    )


# ------------------------------------------------------------------------------ period-end job


@dataclass
class PeriodEndResult:
    as_of: date
    entry_assigned: int = 0
    judged: int = 0
    kept: int = 0
    grace_started: int = 0
    grace_cancelled: int = 0
    downgraded: int = 0
    moves: Counter[tuple[str, str]] = field(
        default_factory=Counter
    )  # (from code, to code) -> members


def _assign_entry_tier(entry: Tier, now: datetime) -> int:
    """Members without any current tier get the entry tier (set-based, conflict-safe)."""
    has_current = TierAssignment.objects.filter(member=OuterRef("pk"), valid_to__isnull=True)
    missing = (
        Member.objects.exclude(status=Member.Status.CLOSED)
        .filter(~Exists(has_current))
        .values_list("pk", flat=True)
        .order_by("pk")
    )
    created = 0
    ids = list(missing)
    floors = _floors({tier.pk: tier for tier in Tier.objects.all()})
    for offset in range(0, len(ids), BATCH):
        rows = [
            TierAssignment(
                member_id=member_id,
                tier=floors.get(member_id, entry),
                reason=Reason.FLOOR if member_id in floors else Reason.ENROLMENT,
                valid_from=now,
                note="floor tier" if member_id in floors else "entry tier",
            )
            for member_id in ids[offset : offset + BATCH]
        ]
        TierAssignment.objects.bulk_create(rows, ignore_conflicts=True)
        created += len(rows)
    return created


def _replace(
    rows: list[dict[str, Any]],
    *,
    now: datetime,
    reason: str,
    tiers: dict[int, Tier],
    actor: Any = None,
    note: str = "",
) -> int:
    """Close the given current rows and open the new ones, in bulk. Each dict has id, member_id,
    tier_id (old), new_tier_id, value and judged_through. Rows no longer current are skipped."""
    if not rows:
        return 0
    by_id = {row["id"]: row for row in rows}
    still_current = list(
        TierAssignment.objects.select_for_update(of=("self",))
        .filter(pk__in=list(by_id), valid_to__isnull=True)
        .values_list("pk", flat=True)
    )
    TierAssignment.objects.filter(pk__in=still_current).update(valid_to=now, updated_at=now)
    TierAssignment.objects.bulk_create(
        TierAssignment(
            member_id=by_id[pk]["member_id"],
            tier=tiers[by_id[pk]["new_tier_id"]],
            previous_tier=tiers[by_id[pk]["tier_id"]],
            reason=reason,
            valid_from=now,
            qualifying_value=by_id[pk]["value"],
            judged_through=by_id[pk].get("judged_through"),
            actor=_user(actor),
            note=note,
        )
        for pk in still_current
    )
    numbers = dict(
        Member.objects.filter(pk__in=[by_id[pk]["member_id"] for pk in still_current]).values_list(
            "pk", "member_number"
        )
    )
    # one outbox insert for the batch (the events are recorded in this transaction)
    events.publish_many(
        "tier.changed",
        [
            _tier_changed_payload(
                member_id=by_id[pk]["member_id"],
                member_number=numbers.get(by_id[pk]["member_id"], ""),
                old=tiers[by_id[pk]["tier_id"]],
                new=tiers[by_id[pk]["new_tier_id"]],
                reason=reason,
                at=now,
            )
            for pk in still_current
        ],
    )
    return len(still_current)


@transaction.atomic
def tier_period_end_evaluate(*, as_of: date | None = None) -> PeriodEndResult:
    """The nightly job: set-based and idempotent (safe to run twice the same day).

    1. members without a tier get the entry tier;
    2. every current row older than its member's latest period end (and not judged for it yet,
       not under manual protection) is judged on the window that closed then: members who
       reached their tier keep it; the others are downgraded to the tier they reached (at most
       one tier down if `one_tier_down`), at once or, with `grace_days`, on the due date;
    3. due grace downgrades are applied, unless the member requalified in the current window.
    """
    zone = programme_zone()
    as_of = as_of or local_today(zone)
    result = PeriodEndResult(as_of=as_of)
    ladder = tier_ladder_checked()
    if not ladder:
        return result
    policy = tier_policy_get()
    tiers = {tier.pk: tier for tier in ladder}
    now = timezone.now()
    result.entry_assigned = _assign_entry_tier(ladder[0], now)
    if policy.downgrade_mode == Mode.NEVER:
        # a tier once reached is kept: grace downgrades left from the period-end mode are void
        result.grace_cancelled = TierAssignment.objects.filter(
            valid_to__isnull=True, downgrade_due_on__isnull=False
        ).update(downgrade_due_on=None, downgrade_to=None, updated_at=now)
        return result
    if policy.downgrade_mode == Mode.IMMEDIATE:
        _regrade_immediate(result, ladder=ladder, policy=policy, zone=zone, now=now)
        return result
    floors = _floors(tiers)

    # 2. judge the window that closed at each member's latest period end
    candidates = (
        TierAssignment.objects.filter(
            valid_to__isnull=True,
            tier__rank__gt=ladder[0].rank,
            downgrade_due_on__isnull=True,
        )
        .exclude(reason=Reason.MANUAL, manual_until__isnull=True)
        .values(
            "id",
            "member_id",
            "member__enrolled_at",
            "tier_id",
            "valid_from",
            "judged_through",
            "manual_until",
        )
    )
    to_judge: list[dict[str, Any]] = []
    period_ends: dict[int, date] = {}
    row: Mapping[str, Any]  # one row of .values(): the candidates, then the judged, then the due
    for row in candidates.iterator(chunk_size=2000):
        enrolled_on = row["member__enrolled_at"].astimezone(zone).date()
        period_end = last_period_end(policy.window, as_of=as_of, enrolled_on=enrolled_on)
        if period_end is None or row["valid_from"] >= local_midnight(period_end, zone):
            continue
        if row["judged_through"] is not None and row["judged_through"] >= period_end:
            continue
        if row["manual_until"] is not None and row["manual_until"] > period_end:
            continue
        to_judge.append({**row, "period_end": period_end})
        period_ends[row["member_id"]] = period_end
    refs = member_refs(((r["member_id"], r["member__enrolled_at"]) for r in to_judge), zone)
    values = values_in_windows(
        basis=policy.basis,
        windows=closed_windows(kind=policy.window, refs=refs, period_ends=period_ends),
        zone=zone,
    )
    keep: dict[date, list[int]] = {}
    grace: dict[tuple[date, date, int], list[int]] = {}
    downgrade: list[dict[str, Any]] = []
    for row in to_judge:
        result.judged += 1
        current = tiers[row["tier_id"]]
        value = values[row["member_id"]]
        reached = _at_least(tier_for_value(ladder, value), floors.get(row["member_id"]))
        if reached.rank >= current.rank:
            keep.setdefault(row["period_end"], []).append(row["id"])
            continue
        target = reached
        if policy.one_tier_down:
            one_down = [t for t in ladder if t.rank < current.rank][-1]
            target = one_down if one_down.rank > reached.rank else reached
        if policy.grace_days:
            due = row["period_end"] + timedelta(days=policy.grace_days)
            grace.setdefault((row["period_end"], due, target.pk), []).append(row["id"])
        else:
            downgrade.append(
                {
                    **row,
                    "new_tier_id": target.pk,
                    "value": value,
                    "judged_through": row["period_end"],
                }
            )
    for period_end, ids in keep.items():
        for offset in range(0, len(ids), BATCH):
            TierAssignment.objects.filter(pk__in=ids[offset : offset + BATCH]).update(
                judged_through=period_end, updated_at=now
            )
        result.kept += len(ids)
    for (period_end, due, target_id), ids in grace.items():
        for offset in range(0, len(ids), BATCH):
            result.grace_started += TierAssignment.objects.filter(
                pk__in=ids[offset : offset + BATCH], valid_to__isnull=True
            ).update(
                judged_through=period_end,
                downgrade_due_on=due,
                downgrade_to_id=target_id,
                updated_at=now,
            )
    for offset in range(0, len(downgrade), BATCH):
        chunk = downgrade[offset : offset + BATCH]
        result.downgraded += _replace(chunk, now=now, reason=Reason.PERIOD_END, tiers=tiers)
        result.moves.update((tiers[r["tier_id"]].code, tiers[r["new_tier_id"]].code) for r in chunk)

    # 3. grace periods that are over
    due_rows = list(
        TierAssignment.objects.filter(
            valid_to__isnull=True, downgrade_due_on__isnull=False, downgrade_due_on__lte=as_of
        ).values(
            "id", "member_id", "member__enrolled_at", "tier_id", "downgrade_to_id", "judged_through"
        )
    )
    if due_rows:
        refs = member_refs(((r["member_id"], r["member__enrolled_at"]) for r in due_rows), zone)
        now_values = values_in_windows(
            basis=policy.basis,
            windows=current_windows(kind=policy.window, refs=refs, today=as_of),
            zone=zone,
        )
        cancel: list[int] = []
        apply: list[dict[str, Any]] = []
        for row in due_rows:
            current, target = tiers[row["tier_id"]], tiers[row["downgrade_to_id"]]
            value = now_values[row["member_id"]]
            reached = _at_least(tier_for_value(ladder, value), floors.get(row["member_id"]))
            if reached.rank >= current.rank:
                cancel.append(row["id"])
                continue
            new = reached if reached.rank > target.rank else target
            apply.append({**row, "new_tier_id": new.pk, "value": value})
        for offset in range(0, len(cancel), BATCH):
            result.grace_cancelled += TierAssignment.objects.filter(
                pk__in=cancel[offset : offset + BATCH]
            ).update(downgrade_due_on=None, downgrade_to=None, updated_at=now)
        for offset in range(0, len(apply), BATCH):
            chunk = apply[offset : offset + BATCH]
            result.downgraded += _replace(
                chunk, now=now, reason=Reason.PERIOD_END, tiers=tiers, note="after the grace period"
            )
            result.moves.update(
                (tiers[r["tier_id"]].code, tiers[r["new_tier_id"]].code) for r in chunk
            )
    return result


def _regrade_immediate(
    result: PeriodEndResult, *, ladder: list[Tier], policy: TierPolicy, zone: Any, now: datetime
) -> None:
    """Downgrade mode "immediate", nightly: everyone above the entry tier is judged on the
    value that counts today (points leave rolling windows, periods close); who no longer
    reaches their tier drops at once to the tier reached (never below a floor, never a
    protected manual tier). Set-based, in chunks; idempotent (a second run finds nobody)."""
    tiers = {tier.pk: tier for tier in ladder}
    floors = _floors(tiers)
    rows = list(
        TierAssignment.objects.filter(valid_to__isnull=True, tier__rank__gt=ladder[0].rank)
        .order_by("member_id")
        .values("id", "member_id", "member__enrolled_at", "tier_id", "reason", "manual_until")
    )
    for offset in range(0, len(rows), BATCH):
        chunk = rows[offset : offset + BATCH]
        refs = member_refs(((r["member_id"], r["member__enrolled_at"]) for r in chunk), zone)
        values = _values_now(refs, policy=policy, zone=zone, today=result.as_of)
        down: list[dict[str, Any]] = []
        for row in chunk:
            result.judged += 1
            current = tiers[row["tier_id"]]
            value = values[row["member_id"]]
            reached = _at_least(tier_for_value(ladder, value), floors.get(row["member_id"]))
            if reached.rank >= current.rank or _protected(row, result.as_of):
                result.kept += 1
                continue
            down.append({**row, "new_tier_id": reached.pk, "value": value})
        result.downgraded += _replace(down, now=now, reason=Reason.VALUE_FELL, tiers=tiers)
        result.moves.update((tiers[r["tier_id"]].code, tiers[r["new_tier_id"]].code) for r in down)


# --------------------------------------------------------------------------------- recalculation


@dataclass
class RecalculationResult:
    dry_run: bool
    members: int = 0
    before: dict[str, int] = field(default_factory=dict)  # tier code -> members ("" = none)
    after: dict[str, int] = field(default_factory=dict)
    moves: Counter[tuple[str, str]] = field(
        default_factory=Counter
    )  # (from code or "", to code) -> members

    @property
    def moved(self) -> int:
        return sum(self.moves.values())


def _protected(row: Mapping[str, Any] | None, today: date) -> bool:
    if row is None or row["reason"] != Reason.MANUAL:
        return False
    return row["manual_until"] is None or row["manual_until"] > today


@transaction.atomic
def tier_recalculate(
    *, dry_run: bool = True, actor: Any = None, progress: Progress | None = None
) -> RecalculationResult:
    """Re-grade every member on the current rules (after a threshold or window change), as if
    the rules had always applied: the tier reached by the better of the current window and the
    last closed one. Manual tiers under protection are not lowered. No entry gifts. With
    `dry_run` nothing is written; the result says how many members would move between which
    tiers, and the distribution before and after."""
    result = RecalculationResult(dry_run=dry_run)
    ladder = tier_ladder_checked()
    if not ladder:
        return result
    policy = tier_policy_get()
    zone = programme_zone()
    today = local_today(zone)
    tiers = {tier.pk: tier for tier in ladder}
    now = timezone.now()
    current = {
        row["member_id"]: row
        for row in TierAssignment.objects.filter(valid_to__isnull=True).values(
            "id", "member_id", "tier_id", "reason", "manual_until"
        )
    }
    members = list(
        Member.objects.exclude(status=Member.Status.CLOSED)
        .order_by("pk")
        .values_list("pk", "enrolled_at")
    )
    result.members = len(members)
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    changes: list[dict[str, Any]] = []
    fresh: list[TierAssignment] = []
    floors = _floors(tiers)
    never = policy.downgrade_mode == Mode.NEVER
    for offset in range(0, len(members), BATCH):
        refs = member_refs(members[offset : offset + BATCH], zone)
        values = _values_now(refs, policy=policy, zone=zone, today=today)
        for ref in refs:
            value = values[ref.id]
            reached = _at_least(tier_for_value(ladder, value), floors.get(ref.id))
            row = current.get(ref.id)
            old = tiers[row["tier_id"]] if row else None
            target = reached
            if old is not None and (never or _protected(row, today)) and reached.rank < old.rank:
                target = old
            before[old.code if old else ""] += 1
            after[target.code] += 1
            if old is not None and old.pk == target.pk:
                continue
            result.moves[(old.code if old else "", target.code)] += 1
            if row is None:
                fresh.append(
                    TierAssignment(
                        member_id=ref.id,
                        tier=target,
                        reason=Reason.RECALCULATION,
                        valid_from=now,
                        qualifying_value=value,
                        actor=_user(actor),
                    )
                )
            else:
                changes.append({**row, "new_tier_id": target.pk, "value": value})
        if progress:
            progress(len(refs))
    result.before = {tier.code: before[tier.code] for tier in ladder}
    if before[""]:
        result.before[""] = before[""]
    result.after = {tier.code: after[tier.code] for tier in ladder}
    if dry_run:
        return result
    for offset in range(0, len(changes), BATCH):
        _replace(
            changes[offset : offset + BATCH],
            now=now,
            reason=Reason.RECALCULATION,
            tiers=tiers,
            actor=actor,
            note="tier rules changed",
        )
    for offset in range(0, len(fresh), BATCH):
        TierAssignment.objects.bulk_create(fresh[offset : offset + BATCH], ignore_conflicts=True)
    return result
