"""Distinct members among a range's purchases, in the shapes PostgreSQL runs best: a hash
aggregate of the distinct keys (`SELECT count(*) FROM (SELECT DISTINCT ...)`, parallel-friendly)
instead of `COUNT(DISTINCT ...)`, which sorts every row of the range in one process, and one
pass over the rows for figures that used to take one pass each. Exact for every filter and
range: each takes the KPI's own queryset of purchases (analytics/selectors/kpis.py)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import Case, Count, F, Q, QuerySet, Value, When
from django.db.models.functions import TruncMonth

from loyalty.ledger.models import Transaction


def distinct_members_count(purchases: QuerySet[Transaction]) -> int:
    """Members (not null) with at least one of these purchases."""
    return purchases.filter(member__isnull=False).values("member").distinct().order_by().count()


def distinct_customers_count(purchases: QuerySet[Transaction]) -> tuple[int, int]:
    """(members, identified non-members): distinct members, and distinct `customer_ref` of
    anonymous purchases that have one, from one pass over the purchases."""
    pairs = (
        purchases.filter(Q(member__isnull=False) | ~Q(customer_ref=""))
        .annotate(
            anonymous_ref=Case(When(member__isnull=True, then=F("customer_ref")), default=Value(""))
        )
        .values("member", "anonymous_ref")
        .distinct()
        .order_by()
    )
    counts = pairs.aggregate(
        members=Count("member"),
        non_members=Count("anonymous_ref", filter=Q(member__isnull=True)),
    )
    return counts["members"], counts["non_members"]


def buyers_and_repeaters(purchases: QuerySet[Transaction]) -> tuple[int, int]:
    """(members with 1 or more of these purchases, members with 2 or more), one pass."""
    per_member = (
        purchases.filter(member__isnull=False)
        .values("member")
        .annotate(purchases=Count("id"))
        .order_by()
    )
    counts = per_member.aggregate(
        buyers=Count("member"), repeaters=Count("member", filter=Q(purchases__gte=2))
    )
    return counts["buyers"], counts["repeaters"]


def distinct_members_per_month(purchases: QuerySet[Transaction], zone: ZoneInfo) -> dict[date, int]:
    """{first day of the month (local): members with at least one of these purchases in it}:
    the distinct (month, member) pairs, counted per month in the database."""
    pairs = (
        purchases.filter(member__isnull=False)
        .annotate(month=TruncMonth("occurred_at", tzinfo=zone))
        .values("month", "member")
        .distinct()
        .order_by()
    )
    sql, params = pairs.query.sql_with_params()
    connection = connections[pairs.db]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pairs.month, count(*) FROM ({sql}) AS pairs GROUP BY 1", params)
        rows = cursor.fetchall()
    # the values Django would return for the `month` column: aware local datetimes
    expression = pairs.query.annotations["month"]
    converters = [
        *connection.ops.get_db_converters(expression),
        *expression.get_db_converters(connection),
    ]
    result: dict[date, int] = {}
    for value, n in rows:
        for converter in converters:
            value = converter(value, expression, connection)
        month = value.astimezone(zone).date() if isinstance(value, datetime) else value
        result[month.replace(day=1)] = n
    return result
