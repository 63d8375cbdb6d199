"""Paid club reads: who is in force when, a member's status for the shop, and the club's KPIs."""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet, Sum

from campaigns.membership.exceptions import ClubPlanNotFound
from campaigns.membership.models import ClubMembership, ClubPlan, ClubTerm
from loyalty.ledger.policy import programme_settings_get

DEFAULT_ZONE = "Europe/London"  # ProgrammeSettings.time_zone's default, before the row exists


def programme_zone() -> ZoneInfo:
    return ZoneInfo(programme_settings_get().time_zone)


def local_day(at: datetime, zone: ZoneInfo | None = None) -> date:
    return at.astimezone(zone or programme_zone()).date()


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def term_end(starts_on: date, months: int) -> date:
    """Last day of a term starting on `starts_on`: joined 3 March, monthly, ends 2 April."""
    return add_months(starts_on, months) - timedelta(days=1)


def grace_until(membership: ClubMembership) -> date:
    return membership.ends_on + timedelta(days=membership.plan.grace_days)


def in_force_q(at: datetime, day: date) -> Q:
    """Memberships whose benefits hold at instant `at` (local day `day`): started, not past the
    last term plus grace, and not cancelled before `at`. Lapsing is only bookkeeping: a
    membership past its grace is out of force whether or not the nightly job marked it."""
    return Q(started_on__lte=day) & Q(
        status__in=[ClubMembership.Status.ACTIVE, ClubMembership.Status.LAPSED]
    ) | Q(status=ClubMembership.Status.CANCELLED, cancelled_at__gt=at, started_on__lte=day)


def membership_holds_on(membership: ClubMembership, day: date) -> bool:
    return membership.started_on <= day <= grace_until(membership)


def club_memberships_in_force(
    *, member_ids: list[int], at: datetime, zone: ZoneInfo | None = None
) -> dict[int, ClubMembership]:
    """member id -> the membership in force at `at`. One query for all of them: the programme's
    time zone comes with the rows (a subquery), so the day is judged without another query."""
    from django.db.models import Subquery

    from loyalty.ledger.models import ProgrammeSettings

    found: dict[int, ClubMembership] = {}
    candidates = (
        ClubMembership.objects.select_related("plan")
        .filter(member_id__in=member_ids)
        .filter(
            Q(status__in=[ClubMembership.Status.ACTIVE, ClubMembership.Status.LAPSED])
            | Q(status=ClubMembership.Status.CANCELLED, cancelled_at__gt=at)
        )
        .filter(started_on__lte=at.date() + timedelta(days=1))  # any zone: at most a day ahead
        .annotate(
            programme_tz=Subquery(ProgrammeSettings.objects.filter(pk=1).values("time_zone")[:1])
        )
        .order_by("member_id", "-started_on", "-pk")
    )
    for membership in candidates:
        tz = zone or ZoneInfo(getattr(membership, "programme_tz", None) or DEFAULT_ZONE)
        if membership.member_id not in found and membership_holds_on(membership, local_day(at, tz)):
            found[membership.member_id] = membership
    return found


def membership_state(membership: ClubMembership, today: date) -> str:
    """active (in a paid term) / grace (term over, grace running) / lapsed / cancelled."""
    if membership.status == ClubMembership.Status.CANCELLED:
        return "cancelled"
    if today > grace_until(membership):
        return "lapsed"
    if today > membership.ends_on:
        return "grace"
    return "active"


def club_membership_in_force(*, member_id: int, at: datetime) -> ClubMembership | None:
    return club_memberships_in_force(member_ids=[member_id], at=at).get(member_id)


def club_membership_current(*, member_id: int) -> ClubMembership | None:
    """The member's latest membership, whatever its state (the status the shop shows)."""
    return (
        ClubMembership.objects.select_related("plan")
        .filter(member_id=member_id)
        .order_by("-started_on", "-pk")
        .first()
    )


def club_plan_get(*, code: str) -> ClubPlan:
    plan = ClubPlan.objects.filter(code=str(code)[:40]).first()
    if plan is None:
        raise ClubPlanNotFound(extra={"plan": str(code)[:40]})
    return plan


def club_plan_list_open() -> QuerySet[ClubPlan]:
    return ClubPlan.objects.filter(active=True).order_by("fee", "name")


@dataclass(frozen=True)
class ClubStatus:
    member_id: int
    state: str  # none / active / grace / lapsed / cancelled
    in_force: bool
    plan: ClubPlan | None
    started_on: date | None
    ends_on: date | None
    grace_until: date | None
    auto_renew: bool
    free_delivery: bool
    points_multiplier: Decimal
    reward_discount_percent: Decimal
    refund: Decimal


def club_status(*, member_id: int, now: datetime) -> ClubStatus:
    """What the shop needs to know about a member's club now (free delivery above all)."""
    membership = club_membership_current(member_id=member_id)
    if membership is None:
        return ClubStatus(
            member_id, "none", False, None, None, None, None, False, False, Decimal(1), Decimal(0),
            Decimal(0),
        )  # fmt: skip
    day = local_day(now)
    plan = membership.plan
    state = membership_state(membership, day)
    in_force = state in ("active", "grace") and membership.started_on <= day
    return ClubStatus(
        member_id=member_id,
        state=state,
        in_force=in_force,
        plan=plan,
        started_on=membership.started_on,
        ends_on=membership.ends_on,
        grace_until=grace_until(membership),
        auto_renew=membership.auto_renew,
        free_delivery=in_force and plan.free_delivery,
        points_multiplier=plan.points_multiplier if in_force else Decimal(1),
        reward_discount_percent=plan.reward_discount_percent if in_force else Decimal(0),
        refund=membership.refund,
    )


@dataclass(frozen=True)
class ClubKpis:
    start: date
    end: date
    paid_members: int  # memberships in force at the end of the period
    terms_due: int  # terms that ended in the period (renewal was due)
    terms_renewed: int  # ... of which the membership went on (a next term was paid)
    renewal_rate: Decimal | None  # renewed / due, None when nothing was due
    fee_revenue: Decimal  # fees paid in the period
    refunds: Decimal  # refunds of cancellations in the period
    net_fee_revenue: Decimal


def club_kpis(*, start: date, end: date, now: datetime | None = None) -> ClubKpis:
    """The club's health for the days start..end (programme time zone, both included): paid
    members at the end, renewal rate of the terms that ended in the period (a term counts as
    renewed when its membership paid the next term, on time or in grace; a term whose grace is
    still running counts as due only once its grace is over), fee revenue and refunds."""
    from django.utils import timezone

    now = now or timezone.now()
    zone = programme_zone()
    first = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    after = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    at_end = min(after - timedelta(microseconds=1), now)
    paid = (
        ClubMembership.objects.select_related("plan")
        .filter(in_force_q(at_end, local_day(at_end, zone)))
        .filter(ends_on__gte=local_day(at_end, zone) - timedelta(days=90))
    )
    paid_members = sum(1 for m in paid if membership_holds_on(m, local_day(at_end, zone)))
    today = local_day(now, zone)
    ended = ClubTerm.objects.select_related("membership__plan").filter(
        ends_on__gte=start, ends_on__lte=end
    )
    due = renewed = 0
    next_terms = set(
        ClubTerm.objects.filter(
            membership_id__in=ended.values("membership_id"), number__gt=1
        ).values_list("membership_id", "number")
    )
    for term in ended:
        membership = term.membership
        if membership.cancelled_at is not None and (
            local_day(membership.cancelled_at, zone) <= term.ends_on
        ):
            continue  # cancelled before the term ended: it never came up for renewal
        was_renewed = (term.membership_id, term.number + 1) in next_terms
        grace_over = term.ends_on + timedelta(days=membership.plan.grace_days) < today
        if was_renewed or grace_over:
            due += 1
            renewed += was_renewed
    revenue = ClubTerm.objects.filter(paid_at__gte=first, paid_at__lt=after).aggregate(
        s=Sum("fee")
    )["s"] or Decimal("0")
    refunds = ClubMembership.objects.filter(
        cancelled_at__gte=first, cancelled_at__lt=after
    ).aggregate(s=Sum("refund"))["s"] or Decimal("0")
    rate = (Decimal(renewed) / Decimal(due)).quantize(Decimal("0.0001")) if due else None
    return ClubKpis(
        start=start,
        end=end,
        paid_members=paid_members,
        terms_due=due,
        terms_renewed=renewed,
        renewal_rate=rate,
        fee_revenue=revenue,
        refunds=refunds,
        net_fee_revenue=revenue - refunds,
    )


def club_membership_list() -> QuerySet[ClubMembership]:
    return ClubMembership.objects.select_related("member", "plan")


def club_term_list(*, membership: Any) -> QuerySet[ClubTerm]:
    return ClubTerm.objects.filter(membership=membership).order_by("number")


def member_club_export(member: Any) -> dict[str, Any]:
    """The paid club's section of a member's privacy export: memberships and paid terms."""
    memberships = (
        ClubMembership.objects.filter(member_id=member.pk)
        .select_related("plan")
        .prefetch_related("terms")
        .order_by("started_on", "pk")
    )
    return {
        "memberships": [
            {
                "plan": m.plan.code,
                "status": m.status,
                "auto_renew": m.auto_renew,
                "started_on": m.started_on.isoformat(),
                "ends_on": m.ends_on.isoformat(),
                "cancelled_at": m.cancelled_at.isoformat() if m.cancelled_at else None,
                "refund": str(m.refund),
                "terms": [
                    {
                        "starts_on": t.starts_on.isoformat(),
                        "ends_on": t.ends_on.isoformat(),
                        "fee": str(t.fee),
                        "payment_reference": t.payment_reference,
                        "paid_at": t.paid_at.isoformat(),
                        "refund": str(t.refund),
                    }
                    for t in sorted(m.terms.all(), key=lambda t: t.number)
                ],
            }
            for m in memberships
        ]
    }
