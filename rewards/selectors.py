"""Rewards reads: the catalogue a member sees, voucher checks for tills, lists for the admin."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from loyalty.core.formatting import format_day as core_format_day
from loyalty.ledger.policy import programme_settings_get
from loyalty.ledger.selectors import account_balance
from loyalty.tiers.selectors import tier_current_assignment
from members.models import Member
from rewards.codes import voucher_code_lookup
from rewards.exceptions import CauseNotFound, RewardNotFound, VoucherNotFound
from rewards.hooks import member_prices, member_refusals
from rewards.models import Cause, Donation, Redemption, Reward, RewardsSettings, Voucher

# a reward's limit period in words, for "Already redeemed this week."
PERIOD_WORDS = {
    "day": pgettext_lazy("limit period", "day"),
    "week": pgettext_lazy("limit period", "week"),
    "month": pgettext_lazy("limit period", "month"),
    "year": pgettext_lazy("limit period", "year"),
}


def rewards_settings_get() -> RewardsSettings:
    instance, _created = RewardsSettings.objects.get_or_create(pk=1)
    return instance


def period_start(period: str, now: datetime) -> datetime:
    """Start of the day/week (Monday)/month/year containing `now`, in the programme's zone."""
    zone = ZoneInfo(programme_settings_get().time_zone)
    local = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == Reward.LimitPeriod.WEEK:
        local -= timedelta(days=local.weekday())
    elif period == Reward.LimitPeriod.MONTH:
        local = local.replace(day=1)
    elif period == Reward.LimitPeriod.YEAR:
        local = local.replace(month=1, day=1)
    return local


def programme_zone() -> ZoneInfo:
    return ZoneInfo(programme_settings_get().time_zone)


def voucher_expiry_for(
    *, issued_at: datetime, valid_days: int, zone: ZoneInfo | None = None
) -> datetime:
    """A voucher valid for `valid_days` works all of its last day in the programme's time zone:
    the last day is the issue day (local) plus `valid_days`, and the voucher expires at the
    first instant after it (local midnight), the same rule as points lots."""
    zone = zone or programme_zone()
    last_day = issued_at.astimezone(zone).date() + timedelta(days=valid_days)
    return datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone)


def voucher_last_day(expires_at: datetime, zone: ZoneInfo | None = None) -> date:
    """The last local day a voucher can be used (the day before its expiry instant when that is
    a local midnight; otherwise the day it expires on)."""
    zone = zone or programme_zone()
    return (expires_at - timedelta(microseconds=1)).astimezone(zone).date()


def format_day(day: date) -> str:
    """31 Mar 2027 (2027年3月31日): the one way vouchers and reward dates are written for staff
    and members, in the active language (loyalty.core.formatting)."""
    return core_format_day(day)


def member_tier_rank(*, member: Member) -> int | None:
    assignment = tier_current_assignment(member_id=member.pk)
    return assignment.tier.rank if assignment else None


def reward_get(*, reference: str | int) -> Reward:
    """By code (tills, API) or by id."""
    reward = None
    text = str(reference).strip()
    if text.isdigit() and len(text) < 19:
        reward = Reward.objects.select_related("min_tier").filter(pk=int(text)).first()
    if reward is None:
        reward = Reward.objects.select_related("min_tier").filter(code=text[:40]).first()
    if reward is None:
        raise RewardNotFound(
            _("No reward %(value)s.") % {"value": repr(text[:40])}, extra={"reward": text[:40]}
        )
    return reward


def reward_list_public(*, now: datetime | None = None) -> QuerySet[Reward]:
    """What the catalogue shows to anyone: live, not hidden."""
    now = now or timezone.now()
    return (
        Reward.objects.live(now)
        .exclude(visibility=Reward.Visibility.HIDDEN)
        .select_related("min_tier", "cause")
        .annotate(
            featured_first=Case(
                When(visibility=Reward.Visibility.FEATURED, then=Value(0)), default=Value(1)
            )
        )
        .order_by("featured_first", "sort_order", "points_cost", "name")
    )


def reward_list_with_counts() -> QuerySet[Reward]:
    """Admin list: stock, redemptions and free partner codes per reward, in one query."""
    return Reward.objects.select_related("min_tier").annotate(
        redeemed=Count(
            "redemptions",
            filter=Q(redemptions__status=Redemption.Status.COMPLETED),
            distinct=True,
        ),
        codes_left=Count("codes", filter=Q(codes__voucher__isnull=True), distinct=True),
    )


@dataclass(frozen=True)
class CatalogueItem:
    reward: Reward
    can_redeem: bool
    reason_code: str | None
    reason: str | None
    points_short: int
    points: int = 0  # what it costs this member (after a member discount)
    discount_source: str = ""  # e.g. "club:plus"; empty: the catalogue price


def reward_catalogue_for_member(
    *, member: Member, now: datetime | None = None
) -> list[CatalogueItem]:
    """The rewards a member may see, each saying whether it can be redeemed now and, if not, why
    (points short, limit reached, out of stock). Redeemable first (featured, then the most
    valuable they can afford), then those closest in points. A fixed number of queries."""
    now = now or timezone.now()
    available = account_balance(member=member, as_of=now).available
    rank = member_tier_rank(member=member)
    rewards = [
        reward
        for reward in reward_list_public(now=now)
        if reward.min_tier_id is None or (rank is not None and rank >= reward.min_tier.rank)  # type: ignore[union-attr]
    ]
    refused = member_refusals(member=member, rewards=rewards, now=now)
    rewards = [reward for reward in rewards if reward.pk not in refused]
    prices = member_prices(member=member, rewards=rewards, now=now)
    ids = [reward.pk for reward in rewards]
    completed = Redemption.objects.filter(
        member=member, reward_id__in=ids, status=Redemption.Status.COMPLETED
    )
    total_by_reward = dict(
        completed.values_list("reward_id").annotate(n=Count("pk")).values_list("reward_id", "n")
    )
    period_counts: dict[tuple[int, str], int] = {}
    for period in {r.limit_period for r in rewards if r.limit_period}:
        start = period_start(period, now)
        for reward_id, n in (
            completed.filter(created_at__gte=start)
            .values_list("reward_id")
            .annotate(n=Count("pk"))
            .values_list("reward_id", "n")
        ):
            period_counts[(reward_id, period)] = n
    codes_left = dict(
        Reward.objects.filter(pk__in=ids, kind=Reward.Kind.PARTNER_CODE)
        .annotate(n=Count("codes", filter=Q(codes__voucher__isnull=True)))
        .values_list("pk", "n")
    )
    active = member.status == Member.Status.ACTIVE
    items = []
    for reward in rewards:
        price = prices[reward.pk]
        short = max(price.points - available, 0)
        code, why = None, None
        if not active:
            code, why = "member_not_active", _("The member is not active.")
        elif reward.limit_per_member is not None and (
            total_by_reward.get(reward.pk, 0) >= reward.limit_per_member
        ):
            code, why = "reward_limit_reached", _("Already redeemed as often as allowed.")
        elif reward.limit_per_period and (
            period_counts.get((reward.pk, reward.limit_period), 0) >= reward.limit_per_period
        ):
            code, why = (
                "reward_limit_reached",
                _("Already redeemed this %(period)s.")
                % {"period": PERIOD_WORDS.get(reward.limit_period, reward.limit_period)},
            )
        elif (reward.stock is not None and reward.stock <= 0) or (
            reward.kind == Reward.Kind.PARTNER_CODE and not codes_left.get(reward.pk)
        ):
            code, why = "reward_out_of_stock", _("Out of stock.")
        elif short:
            code, why = "insufficient_points", _("%(short)s more points needed.") % {"short": short}
        items.append(
            CatalogueItem(
                reward,
                code is None,
                code,
                why,
                short,
                price.points,
                price.adjustment.source if price.adjustment else "",
            )
        )

    def relevance(item: CatalogueItem) -> tuple[int, ...]:
        featured = item.reward.visibility == Reward.Visibility.FEATURED
        if item.can_redeem:
            return (0, not featured, -item.points, item.reward.pk)
        if item.reason_code == "insufficient_points":
            return (1, item.points_short, item.reward.pk)
        return (2, item.reward.points_cost, item.reward.pk)

    return sorted(items, key=relevance)


@dataclass(frozen=True)
class VoucherCheck:
    code: str
    status: str
    valid: bool
    member_bound: bool
    member_id: int | None
    member_number: str
    member_name: str
    reward_code: str | None
    reward_name: str
    benefit: str
    partner_code: str
    points: int
    expires_at: datetime
    valid_until: date
    used_at: datetime | None
    order_ref: str
    message: str


def voucher_status_now(voucher: Voucher, now: datetime) -> str:
    """An issued voucher past its date is expired even before the nightly job marks it."""
    if voucher.status == Voucher.Status.ISSUED and voucher.expires_at <= now:
        return Voucher.Status.EXPIRED
    return voucher.status


def voucher_check(*, code: str, now: datetime | None = None) -> VoucherCheck:
    """What a till needs to know about a code, in one query. Raises VoucherNotFound."""
    now = now or timezone.now()
    normal = voucher_code_lookup(code)
    voucher = (
        Voucher.objects.select_related(
            "member", "redemption", "redemption__reward", "batch", "batch__reward", "gift_reward"
        )
        .filter(code=normal)
        .first()
        if normal
        else None
    )
    if voucher is None:
        raise VoucherNotFound(extra={"code": str(code)[:40]})
    status = voucher_status_now(voucher, now)
    reward = voucher.reward
    benefit = (
        reward.benefit if reward is not None else f"Paid {voucher.redemption.value} with points"  # type: ignore[union-attr]
    )
    zone = programme_zone()
    last_day = format_day(voucher_last_day(voucher.expires_at, zone))
    used_on = format_day(voucher.used_at.astimezone(zone).date()) if voucher.used_at else ""
    messages = {
        Voucher.Status.ISSUED: _("Valid until the end of %(day)s: %(benefit)s.")
        % {"day": last_day, "benefit": benefit},
        Voucher.Status.USED: (
            _("Already used for order %(order)s on %(day)s.")
            % {"order": voucher.order_ref or _("(none)"), "day": used_on}
            if used_on
            else _("Already used for order %(order)s.")
            % {"order": voucher.order_ref or _("(none)")}
        ),
        Voucher.Status.EXPIRED: _("Expired: it was valid until the end of %(day)s.")
        % {"day": last_day},
        Voucher.Status.CANCELLED: _("Cancelled; the points were given back.")
        if voucher.redemption_id
        else _("Cancelled."),
        Voucher.Status.UNISSUED: _("Pre-printed, never issued or sold: it cannot be used."),
    }
    member = voucher.member
    message = messages[status]  # type: ignore[index]
    if voucher.member_bound and status == Voucher.Status.ISSUED and member is not None:
        message += " " + _("Only for member %(number)s: check their card.") % {
            "number": member.member_number
        }
    return VoucherCheck(
        code=voucher.display_code,
        status=status,
        valid=status == Voucher.Status.ISSUED,
        member_bound=voucher.member_bound,
        member_id=member.pk if member else None,
        member_number=member.member_number if member else "",
        member_name=member.display_name if member else "",
        reward_code=reward.code if reward else None,
        reward_name=reward.name if reward else "Points payment",
        benefit=benefit,
        partner_code=voucher.partner_code if status == Voucher.Status.ISSUED else "",
        points=voucher.redemption.points if voucher.redemption else 0,
        expires_at=voucher.expires_at,
        valid_until=voucher_last_day(voucher.expires_at, zone),
        used_at=voucher.used_at,
        order_ref=voucher.order_ref,
        message=message,
    )


def voucher_list_for_member(*, member: Member, status: str | None = None) -> QuerySet[Voucher]:
    vouchers = Voucher.objects.select_related(
        "redemption", "redemption__reward", "batch__reward", "gift_reward"
    ).filter(member=member)
    if status:
        vouchers = vouchers.filter(status=status)
    return vouchers.order_by("-created_at", "-pk")


def redemption_get(*, redemption_id: int) -> Any:
    from rewards.exceptions import RedemptionNotFound

    if not 0 < redemption_id < 2**63:
        raise RedemptionNotFound(extra={"redemption": redemption_id})
    redemption = (
        Redemption.objects.select_related("member", "reward", "voucher", "donation__cause")
        .filter(pk=redemption_id)
        .first()
    )
    if redemption is None:
        raise RedemptionNotFound(extra={"redemption": redemption_id})
    return redemption


def redemption_batch(*, redemption: Redemption) -> list[Redemption]:
    """Every redemption made by the same request as `redemption` (N at once), first first."""
    lead_id = redemption.batch_lead_id or redemption.pk
    return list(
        Redemption.objects.select_related("member", "reward", "voucher", "donation__cause")
        .filter(Q(pk=lead_id) | Q(batch_lead_id=lead_id))
        .order_by("pk")
    )


def redemption_list_for_export() -> QuerySet[Redemption]:
    return Redemption.objects.select_related(
        "member", "reward", "voucher", "store", "created_by"
    ).order_by("pk")


# ---------------------------------------------------------------------------------- donations
def cause_list_open() -> QuerySet[Cause]:
    """The causes a member may choose now, in the order staff set."""
    return Cause.objects.filter(active=True).order_by("sort_order", "name", "pk")


def cause_get(*, code: str) -> Cause:
    cause = Cause.objects.filter(code=str(code).strip()[:40]).first()
    if cause is None:
        raise CauseNotFound(extra={"cause": str(code)[:40]})
    return cause


@dataclass(frozen=True)
class DonationTotal:
    period: date  # first day of the period (programme time zone)
    cause_id: int
    cause_code: str
    cause_name: str
    donations: int
    members: int
    points: int
    value: Decimal
    matched_points: int
    matched_value: Decimal


DONATION_PERIODS = ("day", "week", "month", "year")


def donation_totals(
    *, start: date | None = None, end: date | None = None, period: str = "month"
) -> list[DonationTotal]:
    """Points given per cause and per period (days in the programme's time zone, `start` and
    `end` included), with the brand's matching apart: what finance pays each cause. Donations
    are final, so every row counts (see rewards.services.redemption_cancel)."""
    from django.db.models import Sum
    from django.db.models.functions import Trunc

    if period not in DONATION_PERIODS:
        raise ValueError(period)
    zone = programme_zone()
    rows = Donation.objects.all()
    if start is not None:
        rows = rows.filter(created_at__gte=datetime.combine(start, time.min, tzinfo=zone))
    if end is not None:
        rows = rows.filter(
            created_at__lt=datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
        )
    grouped = (
        rows.annotate(bucket=Trunc("created_at", period, tzinfo=zone))
        .values("bucket", "cause_id", "cause__code", "cause__name")
        .annotate(
            n=Count("pk"),
            givers=Count("member_id", distinct=True),
            points_sum=Sum("points"),
            value_sum=Sum("value"),
            matched_sum=Sum("matched_points"),
            matched_value_sum=Sum("matched_value"),
        )
        .order_by("bucket", "cause__name", "cause_id")
    )
    return [
        DonationTotal(
            period=row["bucket"].astimezone(zone).date(),
            cause_id=row["cause_id"],
            cause_code=row["cause__code"],
            cause_name=row["cause__name"],
            donations=row["n"],
            members=row["givers"],
            points=row["points_sum"] or 0,
            value=row["value_sum"] or Decimal("0"),
            matched_points=row["matched_sum"] or 0,
            matched_value=row["matched_value_sum"] or Decimal("0"),
        )
        for row in grouped
    ]


def donation_list_for_member(*, member: Member) -> QuerySet[Donation]:
    return Donation.objects.select_related("cause").filter(member=member).order_by("-created_at")
