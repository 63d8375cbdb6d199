"""What every KPI is computed over: a date range in the programme's time zone, optionally one
store and one tier (resolved once, here, so every selector reads the same rules).

- Dates are local days of the programme's time zone (`ProgrammeSettings.time_zone`); a range is
  [local midnight of `date_from`, local midnight after `date_to`), both days included.
- Store filter: transactions made at that store; member counts (enrolments, tiers, liability,
  lifetime value, lapsed) by the member's home store.
- Tier filter: members holding that tier at the end of the range (a member who changes tier
  mid-period counts in the tier held at the end, with all of the period's transactions).
  Anonymous customers have no tier, so a tier filter leaves them out.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.ledger.models import Transaction
from loyalty.ledger.policy import programme_settings_get
from loyalty.tiers.models import Tier, TierAssignment
from members.models import Member, Store

RATE_PLACES = Decimal("0.0001")
MONEY_PLACES = Decimal("0.01")
MAX_RANGE_DAYS = 3660  # ten years: a typo (year 20011) is refused, not computed
EARLIEST = date(1970, 1, 1)
LATEST = date(2100, 12, 31)


@dataclass(frozen=True)
class Period:
    date_from: date
    date_to: date  # included
    zone: ZoneInfo
    store: Store | None = None
    tier: Tier | None = None

    @property
    def start(self) -> datetime:
        return local_midnight(self.date_from, self.zone)

    @property
    def end(self) -> datetime:
        """The first instant after the range (exclusive)."""
        return local_midnight(self.date_to + timedelta(days=1), self.zone)

    @property
    def as_of(self) -> datetime:
        """The end of the range, or now when the range reaches into the future."""
        return min(self.end, timezone.now())

    def previous(self) -> "Period":
        """The period of the same length just before this one (for "change vs previous")."""
        days = (self.date_to - self.date_from).days + 1
        return Period(
            date_from=self.date_from - timedelta(days=days),
            date_to=self.date_from - timedelta(days=1),
            zone=self.zone,
            store=self.store,
            tier=self.tier,
        )

    def filters(self) -> dict[str, str | None]:
        return {
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "store": self.store.code if self.store else None,
            "tier": self.tier.code if self.tier else None,
        }


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def programme_zone() -> ZoneInfo:
    return ZoneInfo(programme_settings_get().time_zone)


def period_resolve(
    *,
    date_from: date,
    date_to: date,
    store: str | None = None,
    tier: str | None = None,
) -> Period:
    """The Period for these filters. Raises ValidationError (per field) for a range that ends
    before it starts or spans more than ten years, an unknown store code or tier code."""
    errors: dict[str, str] = {}
    for field, value in (("from", date_from), ("to", date_to)):
        if not EARLIEST <= value <= LATEST:
            errors[field] = str(_("Give a date between 1970-01-01 and 2100-12-31."))
    if not errors and date_to < date_from:
        errors["to"] = str(_("The end date must not be before the start date."))
    elif not errors and (date_to - date_from).days > MAX_RANGE_DAYS:
        errors["to"] = str(_("A range may span at most ten years."))
    store_obj = tier_obj = None
    if store:
        store_obj = Store.objects.filter(code=store).first()
        if store_obj is None:
            errors["store"] = str(_("No store has the code %(code)s.") % {"code": store})
    if tier:
        tier_obj = Tier.objects.filter(code=tier).first()
        if tier_obj is None:
            errors["tier"] = str(_("No tier has the code %(code)s.") % {"code": tier})
    if errors:
        raise ValidationError(errors)
    return Period(
        date_from=date_from, date_to=date_to, zone=programme_zone(), store=store_obj, tier=tier_obj
    )


def rate(numerator: int | Decimal | None, denominator: int | Decimal | None) -> Decimal | None:
    """numerator / denominator to 4 places; None when there is nothing to divide by."""
    if not denominator:
        return None
    return (Decimal(numerator or 0) / Decimal(denominator)).quantize(
        RATE_PLACES, rounding=ROUND_HALF_UP
    )


def money(value: Decimal | int | None) -> Decimal:
    return Decimal(value or 0).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)


def tier_at(moment: datetime, member_ref: str = "pk") -> Subquery:
    """The id of the tier the member (OuterRef(member_ref)) held just before `moment`."""
    return Subquery(
        TierAssignment.objects.filter(member=OuterRef(member_ref), valid_from__lt=moment)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=moment))
        .order_by("-valid_from", "-id")
        .values("tier_id")[:1]
    )


def members_in_scope(period: Period, *, by_store: bool = True) -> QuerySet[Member]:
    """Members enrolled before the end of the range, of the store (home store) and of the tier
    (held at the end) the filters name."""
    members = Member.objects.filter(enrolled_at__lt=period.end)
    if by_store and period.store is not None:
        members = members.filter(home_store=period.store)
    if period.tier is not None:
        members = members.alias(tier_at_end=tier_at(period.end)).filter(tier_at_end=period.tier.pk)
    return members


def transactions_in_scope(
    period: Period, *, kind: str | None = None, start: datetime | None = None
) -> QuerySet[Transaction]:
    """Transactions in [start or period.start, period.end) at the store, by members of the tier."""
    transactions = Transaction.objects.filter(
        occurred_at__gte=period.start if start is None else start, occurred_at__lt=period.end
    )
    if kind:
        transactions = transactions.filter(kind=kind)
    if period.store is not None:
        transactions = transactions.filter(store=period.store)
    if period.tier is not None:
        transactions = transactions.filter(
            member__in=members_in_scope(period, by_store=False).values("pk")
        )
    return transactions
