"""Segment rules -> one SQL query over members, for any "as of" moment.

Each condition becomes a boolean SQL expression on the member row (a column test, or an EXISTS /
scalar subquery correlated on the member id); the conditions of a group are ANDed and the groups
ORed, and the whole rule is the WHERE clause of a single SELECT on members (no Python loop over
members). "As of" means: purchases, points, enrolment and tiers are read as they were at that
moment (transactions and ledger entries before it, the tier assignment valid then); status,
consent, birthday, home store and RFM scores are the current ones (they keep no history).
Erased members and members enrolled after the moment are never in a segment.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
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
from django.utils.translation import gettext as _

from campaigns.models import RfmScore, Segment, SegmentCondition, SegmentListMember
from loyalty.ledger.models import LedgerEntry, PointsAccount, Transaction
from loyalty.ledger.policy import programme_settings_get
from loyalty.tiers.models import TierAssignment
from members.models import Consent, Member, Store

FIELD = SegmentCondition.Field
Op = SegmentCondition.Operator
CHOICE_OPS = {Op.IS, Op.IS_NOT}
DATE_OPS = {Op.BEFORE, Op.AFTER, Op.WITHIN_DAYS, Op.NOT_WITHIN_DAYS}
NUMBER_OPS = {Op.AT_LEAST, Op.AT_MOST, Op.IS}
ALLOWED = {
    FIELD.TIER: CHOICE_OPS,
    FIELD.STATUS: CHOICE_OPS,
    FIELD.HOME_STORE: CHOICE_OPS,
    FIELD.ENROLMENT_CHANNEL: CHOICE_OPS,
    FIELD.CONSENT: CHOICE_OPS,
    FIELD.BIRTHDAY_MONTH: CHOICE_OPS,
    FIELD.REFERRED: {Op.IS},
    FIELD.IN_SEGMENT: CHOICE_OPS,
    FIELD.TAG: CHOICE_OPS,
    FIELD.ENROLLED: DATE_OPS,
    FIELD.LAST_PURCHASE: DATE_OPS,
    FIELD.PURCHASE_COUNT: NUMBER_OPS,
    FIELD.SPEND: NUMBER_OPS,
    FIELD.POINTS_BALANCE: NUMBER_OPS,
    FIELD.RFM_RECENCY: NUMBER_OPS,
    FIELD.RFM_FREQUENCY: NUMBER_OPS,
    FIELD.RFM_MONETARY: NUMBER_OPS,
}
YES = {"yes", "true", "1", "y"}
NO = {"no", "false", "0", "n"}


def _int(value: str) -> int | None:
    try:
        return int(value.strip())
    except (ValueError, AttributeError):
        return None


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        return None
    return number if number.is_finite() else None


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        return None


def condition_errors(cond: SegmentCondition) -> dict[str, str]:
    """Field-by-field errors of one condition (empty when it is valid)."""
    field, op, value = cond.field, cond.operator, (cond.value or "").strip()
    if field not in ALLOWED:
        return {"field": _("Choose a field.")}
    if op not in ALLOWED[field]:
        names = ", ".join(str(Op(o).label) for o in sorted(ALLOWED[field]))
        return {"operator": _("For this field use one of: %(ops)s.") % {"ops": names}}
    if not value:
        return {"value": _("Enter a value.")}
    if cond.window_days is not None and field not in (FIELD.PURCHASE_COUNT, FIELD.SPEND):
        return {"window_days": _("Only purchases and spend are counted over a window.")}
    if field in DATE_OPS_FIELDS:
        if op in (Op.WITHIN_DAYS, Op.NOT_WITHIN_DAYS):
            days = _int(value)
            if days is None or not 0 < days <= 36500:
                return {"value": _("A number of days, e.g. 90.")}
        elif _date(value) is None:
            return {"value": _("A date like 2026-01-31.")}
        return {}
    if field == FIELD.TIER:
        from loyalty.tiers.models import Tier

        if not Tier.objects.filter(code=value).exists():
            return {"value": _("No tier with the code %(code)s.") % {"code": value}}
    elif field == FIELD.STATUS:
        if value not in Member.Status.values:
            return {"value": _("One of: %(v)s.") % {"v": ", ".join(Member.Status.values)}}
    elif field == FIELD.HOME_STORE:
        if not Store.objects.filter(code=value).exists():
            return {"value": _("No store with the code %(code)s.") % {"code": value}}
    elif field == FIELD.ENROLMENT_CHANNEL:
        if value not in Member.Channel.values:
            return {"value": _("One of: %(v)s.") % {"v": ", ".join(Member.Channel.values)}}
    elif field == FIELD.CONSENT:
        if value not in Consent.Channel.values:
            return {"value": _("One of: %(v)s.") % {"v": ", ".join(Consent.Channel.values)}}
    elif field == FIELD.BIRTHDAY_MONTH:
        month = _int(value)
        if month is None or not 1 <= month <= 12:
            return {"value": _("A month number from 1 to 12.")}
    elif field == FIELD.REFERRED:
        if value.lower() not in YES | NO:
            return {"value": _("yes or no.")}
    elif field == FIELD.TAG:
        if len(value) > 40 or '"' in value or "\\" in value:
            return {"value": _("A tag as members carry it, e.g. running.")}
    elif field == FIELD.IN_SEGMENT:
        if not Segment.objects.filter(name=value, kind=Segment.Kind.STATIC).exists():
            return {"value": _("No static list named %(name)s.") % {"name": value}}
    elif field in (FIELD.RFM_RECENCY, FIELD.RFM_FREQUENCY, FIELD.RFM_MONETARY):
        q = _int(value)
        if q is None or not 1 <= q <= 5:
            return {"value": _("A quintile from 1 to 5.")}
    elif field in (FIELD.PURCHASE_COUNT, FIELD.POINTS_BALANCE):
        number = _int(value)
        if number is None or number < 0:
            return {"value": _("A whole number, e.g. 3.")}
    elif field == FIELD.SPEND:
        amount = _decimal(value)
        if amount is None or amount < 0:
            return {"value": _("An amount, e.g. 250.00.")}
    return {}


DATE_OPS_FIELDS = {FIELD.ENROLLED, FIELD.LAST_PURCHASE}


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


def condition_q(cond: SegmentCondition, moment: datetime) -> Q:
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
            balance = PointsAccount.objects.filter(member_id=OuterRef("pk")).values("balance")
        else:
            balance = (
                LedgerEntry.objects.filter(
                    account__member_id=OuterRef("pk"), effective_at__lt=moment
                )
                .order_by()
                .values("account_id")
                .annotate(b=Sum("amount"))
                .values("b")
            )
        expression = Coalesce(Subquery(balance, output_field=IntegerField()), Value(0))
        q = Q(_compare(expression, op, int(value)))
    elif field in (FIELD.RFM_RECENCY, FIELD.RFM_FREQUENCY, FIELD.RFM_MONETARY):
        column = field.removeprefix("rfm_")
        lookup = {Op.AT_LEAST: "gte", Op.AT_MOST: "lte", Op.IS: "exact"}[op]
        q = Q(
            Exists(
                RfmScore.objects.filter(
                    member_id=OuterRef("pk"), **{f"{column}__{lookup}": int(value)}
                )
            )
        )
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


def rule_q(conditions: list[SegmentCondition], moment: datetime) -> Q:
    groups: dict[int, Q] = {}
    for cond in conditions:
        q = condition_q(cond, moment)
        groups[cond.group] = groups[cond.group] & q if cond.group in groups else q
    if not groups:
        return Q()  # no condition: every member
    combined = Q()
    for index, q in enumerate(groups.values()):
        combined = q if index == 0 else combined | q
    return combined


def segment_members(
    segment: Segment | None, *, as_of: date | datetime | None = None, conditions: list | None = None
) -> QuerySet[Member]:
    """The members of a segment as of a moment (one query when evaluated). `conditions` lets
    the admin preview unsaved conditions."""
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
    return base.filter(rule_q(conditions, moment))


def segment_count(segment: Segment | None, *, as_of: date | datetime | None = None) -> int:
    return segment_members(segment, as_of=as_of).order_by().count()
