"""Segment rules -> one SQL query over members, for any "as of" moment (lifecycle stages and the
VIP of the month come from campaigns.engagement, as of the moment too).

Each condition becomes a boolean SQL expression on the member row (a column test, or an EXISTS /
scalar subquery correlated on the member id); the conditions of a group are ANDed and the groups
ORed, and the whole rule is the WHERE clause of a single SELECT on members (no Python loop over
members). "As of" means: purchases, points, enrolment and tiers are read as they were at that
moment (transactions and ledger entries before it, the tier assignment valid then); status,
consent, birthday, home store and RFM scores are the current ones (they keep no history).
Erased members and members enrolled after the moment are never in a segment.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import Exact, GreaterThanOrEqual, IContains, LessThanOrEqual
from django.utils import timezone

from campaigns.engagement.models import StageChange, VipOfMonth
from campaigns.models import RfmScore, Segment, SegmentCondition, SegmentListMember
from campaigns.validation import YES, _date, condition_errors  # noqa: F401 - re-exported
from loyalty.ledger.models import LedgerEntry, MemberPurchaseStats, PointsAccount, Transaction
from loyalty.ledger.policy import programme_settings_get
from loyalty.tiers.models import TierAssignment
from members.models import Consent, Member

FIELD = SegmentCondition.Field
Op = SegmentCondition.Operator


def as_of_moment(as_of: date | datetime | None) -> datetime:
    """A date means the start of that day in the programme time zone."""
    if as_of is None:
        return timezone.now()
    if isinstance(as_of, datetime):
        return as_of
    zone = ZoneInfo(programme_settings_get().time_zone)
    return datetime.combine(as_of, time.min, tzinfo=zone)


def _compare(expression: Any, op: str, value: Any) -> Any:
    if op == Op.AT_LEAST:
        return GreaterThanOrEqual(expression, value)
    if op == Op.AT_MOST:
        return LessThanOrEqual(expression, value)
    return Exact(expression, value)


def _purchases(moment: datetime, window_days: int | None) -> QuerySet:
    qs = Transaction.objects.filter(member_id=OuterRef("pk"), occurred_at__lt=moment)
    if window_days:
        qs = qs.filter(occurred_at__gte=moment - timedelta(days=window_days))
    return qs


def _purchasers(moment: datetime, window_days: int | None, at_least: int) -> QuerySet:
    """Ids of the members with at least `at_least` purchases before `moment` (in the window)."""
    qs = _purchases_of_anyone(moment, window_days)
    if at_least <= 1:
        return qs.values("member_id")
    return (
        qs.order_by()
        .values("member_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=at_least)
        .values("member_id")
    )


def _purchases_of_anyone(moment: datetime, window_days: int | None) -> QuerySet:
    qs = Transaction.objects.filter(
        kind=Transaction.Kind.PURCHASE, member_id__isnull=False, occurred_at__lt=moment
    )
    if window_days:
        qs = qs.filter(occurred_at__gte=moment - timedelta(days=window_days))
    return qs


def is_now(moment: datetime) -> bool:
    """Whether the purchase statistics answer for `moment`: they count every transaction, and
    none can be later than now (the purchase path refuses future times, beyond the clock skew)."""
    return moment >= timezone.now() - timedelta(seconds=5)


def _stats(*tests: Q, **lookups: Any) -> Exists:
    return Exists(MemberPurchaseStats.objects.filter(*tests, member_id=OuterRef("pk"), **lookups))


# A condition read from the statistics: (True, test) = the member has a statistics row passing
# `test`; (False, test) = the member has no row passing it. One row per member, so the tests of
# one AND group fold into a single EXISTS (see `_stats_group_q`).
StatsTest = tuple[bool, Q]


def _stats_compare(column: str, op: str, value: Any) -> StatsTest:
    """`COALESCE(stats.column, 0) <op> value` (a member without a row has 0)."""
    lookups: dict[str, str] = {Op.AT_LEAST: "gte", Op.AT_MOST: "lte"}
    lookup = lookups.get(op, "exact")
    zero_matches = {"gte": value <= 0, "lte": value >= 0, "exact": value == 0}[lookup]
    if zero_matches:  # every member but those whose figure fails the test
        return False, ~Q(**{f"{column}__{lookup}": value})
    return True, Q(**{f"{column}__{lookup}": value})


def _fast_condition(cond: SegmentCondition, moment: datetime) -> StatsTest | None:
    """The condition read from MemberPurchaseStats (same members as the exact subqueries; see
    tests/campaigns/test_segment_stats.py), or None when it needs the transactions."""
    field, op, value = cond.field, cond.operator, cond.value.strip()
    if field == FIELD.LAST_PURCHASE:
        if op == Op.BEFORE:  # has purchased, and not since the date
            return True, Q(last_purchase_at__lt=as_of_moment(_date(value)))
        if op == Op.AFTER:
            return True, Q(last_purchase_at__gte=as_of_moment(_date(value)))
        recent = Q(last_purchase_at__gte=moment - timedelta(days=int(value)))
        return (op == Op.WITHIN_DAYS), recent
    if cond.window_days:
        return None
    if field == FIELD.PURCHASE_COUNT:
        positive, test = _stats_compare("purchase_count", op, int(value))
    elif field == FIELD.SPEND:
        positive, test = _stats_compare("spend", op, Decimal(value))
    else:
        return None
    return (not positive if op == Op.IS_NOT else positive), test


def _stats_group_q(tests: list[StatsTest]) -> Q:
    """The AND of statistics tests as one EXISTS (or NOT EXISTS): a member has at most one row,
    so "a row passes A and a row passes B" is "a row passes A and B", and "no row passes C" next
    to a positive test is "that row fails C". On 1M members this is one scan of the statistics
    instead of one per condition (docs/performance.md, campaigns)."""
    must = [t for positive, t in tests if positive]
    must_not = [t for positive, t in tests if not positive]
    if must:
        return Q(_stats(*must, *[~t for t in must_not]))
    either = must_not[0]
    for t in must_not[1:]:
        either |= t
    return ~Q(_stats(either))


def condition_q(cond: SegmentCondition, moment: datetime, *, exact: bool = False) -> Q:
    """`exact`: always read the transactions (the statistics are used for "now" otherwise)."""
    if not exact and is_now(moment):
        fast = _fast_condition(cond, moment)
        if fast is not None:
            return _stats_group_q([fast])
    field, op, value = cond.field, cond.operator, cond.value.strip()
    negate = op == Op.IS_NOT
    if field == FIELD.TIER:
        q = Q(
            Exists(
                TierAssignment.objects.filter(
                    member_id=OuterRef("pk"), tier__code=value, valid_from__lte=moment
                ).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=moment))
            )
        )
    elif field == FIELD.STATUS:
        q = Q(status=value)
    elif field == FIELD.HOME_STORE:
        q = Q(home_store__code=value)
    elif field == FIELD.ENROLMENT_CHANNEL:
        q = Q(enrolment_channel=value)
    elif field == FIELD.CONSENT:
        q = Q(Exists(Consent.objects.filter(member_id=OuterRef("pk"), channel=value, granted=True)))
    elif field == FIELD.BIRTHDAY_MONTH:
        q = Q(birth_date__month=int(value))
    elif field == FIELD.REFERRED:
        q = Q(referred_by__isnull=value.lower() not in YES)
    elif field == FIELD.IN_SEGMENT:
        q = Q(
            Exists(
                SegmentListMember.objects.filter(
                    member_id=OuterRef("pk"), segment__name=value, segment__kind="static"
                )
            )
        )
    elif field == FIELD.TAG:
        # interests is a JSON list of short texts: its text holds "tag" with the quotes, the
        # same on SQLite and PostgreSQL (JSON containment has no SQLite equivalent)
        q = Q(IContains(Cast("interests", output_field=TextField()), f'"{value}"'))
    elif field == FIELD.ENROLLED:
        q = _date_q("enrolled_at", op, value, moment)
    elif field == FIELD.LAST_PURCHASE:
        purchases = Transaction.objects.filter(
            member_id=OuterRef("pk"), kind=Transaction.Kind.PURCHASE, occurred_at__lt=moment
        )
        if op == Op.BEFORE:  # has purchased, and not since the date
            day = as_of_moment(_date(value))
            q = Q(Exists(purchases)) & ~Q(Exists(purchases.filter(occurred_at__gte=day)))
        elif op == Op.AFTER:
            q = Q(Exists(purchases.filter(occurred_at__gte=as_of_moment(_date(value)))))
        else:
            recent = Q(
                Exists(purchases.filter(occurred_at__gte=moment - timedelta(days=int(value))))
            )
            q = recent if op == Op.WITHIN_DAYS else ~recent
    elif field == FIELD.PURCHASE_COUNT and op == Op.AT_LEAST:
        # "at least N": one grouped pass over the purchases, joined as a semi-join (a
        # correlated count per member is one index probe per member: 4x slower on 100k)
        q = Q(pk__in=_purchasers(moment, cond.window_days, int(value))) if int(value) else Q()
    elif field == FIELD.PURCHASE_COUNT:
        counted = (
            _purchases(moment, cond.window_days)
            .filter(kind=Transaction.Kind.PURCHASE)
            .order_by()
            .values("member_id")
            .annotate(n=Sum(Value(1)))
            .values("n")
        )
        expression = Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
        q = Q(_compare(expression, op, int(value)))
    elif field == FIELD.SPEND:
        net = (
            _purchases(moment, cond.window_days)
            .order_by()
            .values("member_id")
            .annotate(
                s=Sum(
                    Case(
                        When(kind=Transaction.Kind.RETURN, then=-1 * F("amount")),
                        default=F("amount"),
                        output_field=DecimalField(max_digits=14, decimal_places=2),
                    )
                )
            )
            .values("s")
        )
        expression = Coalesce(
            Subquery(net, output_field=DecimalField(max_digits=14, decimal_places=2)),
            Value(Decimal("0")),
            output_field=DecimalField(max_digits=14, decimal_places=2),
        )
        q = Q(_compare(expression, op, Decimal(value)))
    elif field == FIELD.POINTS_BALANCE:
        if moment >= timezone.now() - timedelta(seconds=5):
            balance = Subquery(
                PointsAccount.objects.filter(member_id=OuterRef("pk")).values("balance"),
                output_field=IntegerField(),
            )
        else:
            balance = Subquery(
                LedgerEntry.objects.filter(
                    account__member_id=OuterRef("pk"), effective_at__lt=moment
                )
                .order_by()
                .values("account_id")
                .annotate(b=Sum("amount"))
                .values("b"),
                output_field=IntegerField(),
            )
        expression = Coalesce(balance, Value(0))
        q = Q(_compare(expression, op, int(value)))
    elif field in (FIELD.RFM_RECENCY, FIELD.RFM_FREQUENCY, FIELD.RFM_MONETARY):
        column = field.removeprefix("rfm_")
        lookups: dict[str, str] = {Op.AT_LEAST: "gte", Op.AT_MOST: "lte", Op.IS: "exact"}
        lookup = lookups[op]
        q = Q(
            Exists(
                RfmScore.objects.filter(
                    member_id=OuterRef("pk"), **{f"{column}__{lookup}": int(value)}
                )
            )
        )
    elif field == FIELD.LIFECYCLE_STAGE:
        # the stage as of the moment: the latest recorded change before it (engagement app);
        # "" for a member with none yet, so that "is not" includes them
        stage_then = Subquery(
            StageChange.objects.filter(member_id=OuterRef("pk"), changed_at__lt=moment)
            .order_by("-changed_at", "-id")
            .values("to_stage")[:1]
        )
        q = Q(Exact(Coalesce(stage_then, Value("")), value))
    elif field == FIELD.VIP_OF_MONTH:
        picked = VipOfMonth.objects.filter(created_at__lt=moment)
        latest_month = picked.order_by("-month").values("month")[:1]
        is_vip = Q(Exists(picked.filter(member_id=OuterRef("pk"), month=Subquery(latest_month))))
        q = is_vip if value.lower() in YES else ~is_vip
    else:  # pragma: no cover - condition_errors refuses other fields
        raise ValueError(field)
    return ~q if negate else q


def _date_q(column: str, op: str, value: str, moment: datetime) -> Q:
    if op == Op.BEFORE:
        return Q(**{f"{column}__lt": as_of_moment(_date(value))})
    if op == Op.AFTER:
        return Q(**{f"{column}__gte": as_of_moment(_date(value))})
    since = moment - timedelta(days=int(value))
    return Q(**{f"{column}__gte": since}) if op == Op.WITHIN_DAYS else Q(**{f"{column}__lt": since})


def rule_q(conditions: list[SegmentCondition], moment: datetime, *, exact: bool = False) -> Q:
    groups: dict[int, Q] = {}
    stats: dict[int, list[StatsTest]] = {}
    fast = not exact and is_now(moment)
    for cond in conditions:
        test = _fast_condition(cond, moment) if fast else None
        if test is not None:
            stats.setdefault(cond.group, []).append(test)
            groups.setdefault(cond.group, Q())
            continue
        q = condition_q(cond, moment, exact=True)
        groups[cond.group] = groups[cond.group] & q if cond.group in groups else q
    for group, tests in stats.items():
        groups[group] &= _stats_group_q(tests)
    if not groups:
        return Q()  # no condition: every member
    combined = Q()
    for index, q in enumerate(groups.values()):
        combined = q if index == 0 else combined | q
    return combined


def segment_members(
    segment: Segment | None,
    *,
    as_of: date | datetime | None = None,
    conditions: list | None = None,
    exact: bool = False,
) -> QuerySet[Member]:
    """The members of a segment as of a moment (one query when evaluated). `conditions` lets
    the admin preview unsaved conditions. As of now, purchase counts and spend without a window
    and the last purchase are read from the members' purchase statistics
    (loyalty.ledger.stats); `exact=True` (and any earlier moment) reads the transactions."""
    moment = as_of_moment(as_of)
    base = Member.objects.filter(erased_at__isnull=True, enrolled_at__lt=moment)
    if segment is None:
        return base
    if segment.kind == Segment.Kind.STATIC:
        return base.filter(
            Exists(SegmentListMember.objects.filter(segment=segment, member_id=OuterRef("pk")))
        )
    if conditions is None:
        conditions = list(segment.conditions.all())
    return base.filter(rule_q(conditions, moment, exact=exact))


def segment_count(segment: Segment | None, *, as_of: date | datetime | None = None) -> int:
    return segment_members(segment, as_of=as_of).order_by().count()
