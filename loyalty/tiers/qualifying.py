"""Qualifying values: what counts towards a tier, for many members at once.

- basis "points": earn + bonus entries, minus reversals of them (returns). Redemptions, expiry,
  refunds of redemptions, adjustments and opening balances never count, so spending points never
  costs a tier. Tier entry gifts (source_type "tier_gift") do not qualify either, or a gift could
  lift a member into the next tier.
- basis "spend": purchase amounts minus return amounts (Decimal money).

Windows are half-open ranges of local dates in the programme time zone; they are turned into
aware datetimes at local midnight. Members are grouped by window (calendar and rolling windows
are the same for everybody, anniversary windows differ per enrolment day) and each group is
summed by one aggregate query per chunk of members (GROUP BY member), never one query per member.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Case, DecimalField, F, Q, Sum, When
from django.utils import timezone

from loyalty.ledger.models import LedgerEntry, Transaction
from loyalty.ledger.policy import programme_settings_get
from loyalty.tiers.models import TierPolicy
from loyalty.tiers.windows import Window, closed_window_before, window_for

ZERO = Decimal("0")
CHUNK = 500  # ids per IN (...) list: well below SQLite's variable limit
GIFT_SOURCE = "tier_gift"


@dataclass(frozen=True)
class MemberRef:
    """What the window computation needs to know about a member."""

    id: int
    enrolled_on: date


def programme_zone() -> ZoneInfo:
    return ZoneInfo(programme_settings_get().time_zone)


def local_today(zone: ZoneInfo | None = None, now: datetime | None = None) -> date:
    zone = zone or programme_zone()
    return (now or timezone.now()).astimezone(zone).date()


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def member_refs(members: Iterable, zone: ZoneInfo) -> list[MemberRef]:
    """MemberRef for Member instances or (id, enrolled_at) pairs."""
    refs = []
    for member in members:
        if isinstance(member, tuple):
            pk, enrolled_at = member
        else:
            pk, enrolled_at = member.pk, member.enrolled_at
        refs.append(MemberRef(id=pk, enrolled_on=enrolled_at.astimezone(zone).date()))
    return refs


def _points_totals(ids: list[int], start: datetime | None, end: datetime | None) -> dict:
    counted = Q(kind__in=[LedgerEntry.Kind.EARN, LedgerEntry.Kind.BONUS]) | (
        Q(kind=LedgerEntry.Kind.REVERSAL)
        & (
            Q(reverses__isnull=True)  # a return
            | Q(reverses__kind__in=[LedgerEntry.Kind.EARN, LedgerEntry.Kind.BONUS])
        )
    )
    entries = LedgerEntry.objects.filter(counted, account__member_id__in=ids).exclude(
        source_type=GIFT_SOURCE
    )
    if start is not None:
        entries = entries.filter(effective_at__gte=start)
    if end is not None:
        entries = entries.filter(effective_at__lt=end)
    rows = (
        entries.order_by()
        .values("account__member_id")
        .annotate(total=Sum("amount"))
        .values_list("account__member_id", "total")
    )
    return {member_id: Decimal(total or 0) for member_id, total in rows}


def _spend_totals(ids: list[int], start: datetime | None, end: datetime | None) -> dict:
    txns = Transaction.objects.filter(member_id__in=ids)
    if start is not None:
        txns = txns.filter(occurred_at__gte=start)
    if end is not None:
        txns = txns.filter(occurred_at__lt=end)
    signed = Case(
        When(kind=Transaction.Kind.RETURN, then=-F("amount")),
        default=F("amount"),
        output_field=DecimalField(max_digits=16, decimal_places=2),
    )
    rows = (
        txns.order_by()
        .values("member_id")
        .annotate(total=Sum(signed))
        .values_list("member_id", "total")
    )
    return {member_id: Decimal(total or 0).quantize(Decimal("0.01")) for member_id, total in rows}


def values_in_windows(
    *, basis: str, windows: dict[int, Window], zone: ZoneInfo
) -> dict[int, Decimal]:
    """Qualifying value per member id for the window given for that member (never negative)."""
    by_window: dict[Window, list[int]] = defaultdict(list)
    for member_id, window in windows.items():
        by_window[window].append(member_id)
    totals_for = _points_totals if basis == TierPolicy.Basis.POINTS else _spend_totals
    result: dict[int, Decimal] = dict.fromkeys(windows, ZERO)
    for window, ids in by_window.items():
        start = local_midnight(window.start, zone) if window.start else None
        end = local_midnight(window.end, zone) if window.end else None
        if window.end is None:  # lifetime: everything the member ever did counts
            start = None
        for offset in range(0, len(ids), CHUNK):
            for member_id, total in totals_for(ids[offset : offset + CHUNK], start, end).items():
                result[member_id] = max(total, ZERO)
    return result


def current_windows(*, kind: str, refs: list[MemberRef], today: date) -> dict[int, Window]:
    return {ref.id: window_for(kind, today=today, enrolled_on=ref.enrolled_on) for ref in refs}


def closed_windows(
    *, kind: str, refs: list[MemberRef], period_ends: dict[int, date]
) -> dict[int, Window]:
    return {
        ref.id: closed_window_before(
            kind, period_end=period_ends[ref.id], enrolled_on=ref.enrolled_on
        )
        for ref in refs
    }


def qualifying_values(
    *,
    members: Iterable,
    policy: TierPolicy,
    today: date | None = None,
    zone: ZoneInfo | None = None,
) -> dict[int, Decimal]:
    """Qualifying value in the window containing `today` (local) for each member."""
    zone = zone or programme_zone()
    today = today or local_today(zone)
    refs = member_refs(members, zone)
    windows = current_windows(kind=policy.window, refs=refs, today=today)
    return values_in_windows(basis=policy.basis, windows=windows, zone=zone)
