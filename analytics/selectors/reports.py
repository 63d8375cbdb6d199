"""Finance's liability report, enrolment cohorts with retention, and RFM segment counts."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils.translation import gettext_lazy as _

from analytics.selectors.common import Period, members_in_scope, money, rate
from analytics.selectors.kpis import (
    ALL_KINDS,
    POINT_MOVEMENTS,
    POINT_SIGNS,
    PURCHASE,
    _accounts,
    _balance_path,
    _entries,
)
from analytics.selectors.permember import adapt, compiled, members_in_scope_sql, run
from loyalty.ledger.models import Transaction
from loyalty.ledger.policy import programme_settings_get

LIABILITY_COLUMNS = ("issued", "reversed", "redeemed", "expired", "adjusted")


def _months(period: Period) -> list[date]:
    months, month = [], period.date_from.replace(day=1)
    while month <= period.date_to:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def liability_report(period: Period) -> list[dict[str, Any]]:
    """Points liability per calendar month of the range (programme time zone), for finance.

    For each month: opening points (sum of every ledger entry before the month, or before the
    range start for a range that starts mid-month), the movements of the month (issued,
    reversed by returns, redeemed net of refunds, expired, adjusted by staff; see kpi_earn_burn),
    and closing = opening + issued - reversed - redeemed - expired + adjusted, which equals the
    sum of all entries before the month's end. Values in money use the programme's point value.
    For a recent start (BALANCE_PATH_DAYS), ONE statement: the accounts' balances and the
    entries from the start on grouped by month (opening = balances - everything since; the
    months of the range give the movements); else two: the opening total (all entries before
    the start) and the range's movements grouped by month and kind."""
    by_month: dict[date, dict[str, Any]] = {}
    if _balance_path(period.start):
        opening, by_month = _liability_from_balances(period)
    else:
        entries = _entries(period)
        opening = int(
            entries.filter(effective_at__lt=period.start).aggregate(t=Coalesce(Sum("amount"), 0))[
                "t"
            ]
        )
        grouped = (
            entries.filter(effective_at__gte=period.start, effective_at__lt=period.end)
            .annotate(month=TruncMonth("effective_at", tzinfo=period.zone))
            .values("month")
            .annotate(
                **{
                    name: Coalesce(Sum("amount", filter=condition), 0)
                    for name, condition in POINT_MOVEMENTS.items()
                }
            )
        )
        by_month = {row["month"].date().replace(day=1): row for row in grouped}
    point_value: Decimal = programme_settings_get().point_value
    report = []
    for month in _months(period):
        row = by_month.get(month, {})
        movements = {name: int(row.get(name, 0)) * POINT_SIGNS[name] for name in LIABILITY_COLUMNS}
        closing = (
            opening
            + movements["issued"]
            - movements["reversed"]
            - movements["redeemed"]
            - movements["expired"]
            + movements["adjusted"]
        )
        report.append(
            {
                "month": month.strftime("%Y-%m"),
                "opening": opening,
                **movements,
                "closing": closing,
                "opening_value": money(opening * point_value),
                "closing_value": money(closing * point_value),
                **{f"{name}_value": money(v * point_value) for name, v in movements.items()},
            }
        )
        opening = closing
    return report


def _month_start(value: Any, zone: Any) -> date:
    """A TruncMonth value from a raw cursor (PostgreSQL: an aware datetime; SQLite: local text)
    as the first day of the local month."""
    if isinstance(value, datetime):
        return (value.astimezone(zone) if value.tzinfo else value).date().replace(day=1)
    return date.fromisoformat(str(value)[:10]).replace(day=1)


def _liability_from_balances(period: Period) -> tuple[int, dict[date, dict[str, Any]]]:
    """(opening, movements by month) from one statement: the balances of the accounts in
    scope, and their entries effective from the start on grouped by local month with the sum of
    everything (for the opening) and the movements before the end (for the range's months)."""
    in_range = Q(effective_at__lt=period.end)
    grouped = (
        _entries(period)
        .filter(kind__in=ALL_KINDS, effective_at__gte=period.start)
        .annotate(month=TruncMonth("effective_at", tzinfo=period.zone))
        .order_by()
        .values("month")
        .annotate(
            everything=Coalesce(Sum("amount"), 0),
            **{
                name: Coalesce(Sum("amount", filter=condition & in_range), 0)
                for name, condition in POINT_MOVEMENTS.items()
            },
        )
    )
    grouped_sql, grouped_params = compiled(grouped)
    accounts_sql, accounts_params = compiled(_accounts(period).order_by().values("balance"))
    names = ["month", "everything", *POINT_MOVEMENTS]
    sql = (
        f"SELECT b.balances, {', '.join(f'g.{name}' for name in names)} "
        f"FROM (SELECT COALESCE(SUM(a.balance), 0) AS balances FROM ({accounts_sql}) a) b "
        f"LEFT JOIN ({grouped_sql}) g ON 1 = 1"
    )
    rows = run(sql, [*accounts_params, *grouped_params], grouped.db)
    balances = int(rows[0][0])
    since, by_month = 0, {}
    for row in rows:
        if row[1] is None:  # no entry since the start: the one row the LEFT JOIN keeps
            continue
        values = dict(zip(names, row[1:], strict=True))
        since += int(values["everything"])
        month = _month_start(values["month"], period.zone)
        by_month[month] = {name: int(values[name]) for name in POINT_MOVEMENTS}
    return balances - since, by_month


def cohort_retention(period: Period) -> list[dict[str, Any]]:
    """Monthly enrolment cohorts: members enrolled in each month of the range (home store, tier
    at the end) and, for each month since enrolment (0 = the enrolment month) up to the end of
    the range, the share of the cohort with at least one purchase in that month (anywhere)."""
    members = members_in_scope(period).filter(enrolled_at__gte=period.start)
    sizes = {
        row["cohort"].date(): row["n"]
        for row in members.annotate(cohort=TruncMonth("enrolled_at", tzinfo=period.zone))
        .values("cohort")
        .annotate(n=Count("id"))
    }
    active = (
        Transaction.objects.filter(
            kind=PURCHASE,
            member__in=members.values("pk"),
            occurred_at__gte=period.start,
            occurred_at__lt=period.end,
        )
        .annotate(
            cohort=TruncMonth("member__enrolled_at", tzinfo=period.zone),
            month=TruncMonth("occurred_at", tzinfo=period.zone),
        )
        .values("cohort", "month")
        .annotate(n=Count("member", distinct=True))
    )
    counts = {(row["cohort"].date(), row["month"].date()): row["n"] for row in active}
    last = period.date_to.replace(day=1)
    table = []
    for cohort in sorted(sizes):
        retention = []
        month, index = cohort, 0
        while month <= last:
            n = counts.get((cohort, month), 0)
            retention.append({"month": index, "members": n, "share": rate(n, sizes[cohort])})
            month = (month + timedelta(days=32)).replace(day=1)
            index += 1
        table.append(
            {"cohort": cohort.strftime("%Y-%m"), "members": sizes[cohort], "retention": retention}
        )
    return table


# Recency score from days since the last purchase; frequency score from purchases in the range.
RECENCY_BOUNDS = ((30, 5), (60, 4), (90, 3), (180, 2))  # up to N days -> score; older: 1
FREQUENCY_BOUNDS = ((10, 5), (5, 4), (3, 3), (2, 2))  # at least N purchases -> score; 1: 1

SEGMENTS = (
    ("champions", _("Champions: bought recently and often")),
    ("loyal", _("Loyal: buy regularly")),
    ("new", _("New: first purchase recently")),
    ("promising", _("Promising: recent, a few purchases")),
    ("needs_attention", _("Needs attention: fading")),
    ("at_risk", _("At risk: bought often, not lately")),
    ("hibernating", _("Hibernating: few purchases, long ago")),
    ("no_purchase", _("No purchase in the range")),
)


def rfm_segments(period: Period) -> dict[str, Any]:
    """RFM counts over the members in scope (enrolled by the end, home store, tier at the end):
    R = days from the last purchase before the end to the end (<=30: 5, <=60: 4, <=90: 3,
    <=180: 2, else 1); F = purchases in the range (10+: 5, 5-9: 4, 3-4: 3, 2: 2, 1: 1);
    M = their purchase revenue in the range. Members are placed on the R x F grid (counts per
    cell) and in named segments (R>=4 and F>=4 champions; R>=3 and F>=3 loyal; R>=4 and F=1
    new; R>=4 promising; R=3 needs attention; R<=2 and F>=3 at risk; else hibernating). Members
    with no purchase in the range are counted as "no purchase". One grouped pass over the
    range's purchases per member joined to the members in scope, counted per (R, F) cell in
    the database. R only matters for members with a purchase in the range (the others are
    "no purchase" whatever their R), and for those the last purchase before the end is their
    last purchase in the range: R comes from that same pass."""
    rows = _rfm_cells(period)
    grid = []
    members: dict[str, int] = {code: 0 for code, _label in SEGMENTS}
    revenue: dict[str, Decimal] = {code: Decimal("0") for code, _label in SEGMENTS}
    for row in rows:  # at most 26 rows: the grid's cells, not members
        r, f = row["r"], row["f"]
        code = _segment(r, f)
        members[code] += row["n"]
        revenue[code] += row["monetary"] or Decimal("0")
        if f:
            grid.append({"recency": r, "frequency": f, "members": row["n"]})
    total = sum(members.values())
    return {
        "grid": sorted(grid, key=lambda c: (-c["recency"], -c["frequency"])),
        "segments": [
            {
                "segment": code,
                "label": str(label),
                "members": members[code],
                "share": rate(members[code], total),
                "revenue": money(revenue[code]),
            }
            for code, label in SEGMENTS
        ],
    }


def _rfm_cells(period: Period) -> list[dict[str, Any]]:
    """Members in scope per (r, f) cell with their revenue in the range, from ONE statement."""
    per_member = (
        Transaction.objects.filter(
            kind=PURCHASE,
            member__isnull=False,
            occurred_at__gte=period.start,
            occurred_at__lt=period.end,
        )
        .order_by()
        .values("member_id")
        .annotate(n=Count("id"), revenue=Sum("amount"), last=Max("occurred_at"))
    )
    per_sql, per_params = compiled(per_member)
    members_sql, members_params, db = members_in_scope_sql(period, with_tier=False)
    end = period.end
    recency = " ".join(f"WHEN p.last >= %s THEN {score}" for _days, score in RECENCY_BOUNDS)
    recency_params = [adapt(db, end - timedelta(days=days)) for days, _score in RECENCY_BOUNDS]
    frequency = " ".join(f"WHEN p.n >= {n} THEN {score}" for n, score in FREQUENCY_BOUNDS)
    sql = (
        f"SELECT c.r, c.f, COUNT(*), SUM(c.revenue) FROM ("
        f"SELECT CASE WHEN p.last IS NULL THEN 1 {recency} ELSE 1 END AS r, "
        f"CASE WHEN p.n IS NULL THEN 0 {frequency} ELSE 1 END AS f, p.revenue AS revenue "
        f"FROM ({members_sql}) m LEFT JOIN ({per_sql}) p ON p.member_id = m.id) c "
        f"GROUP BY c.r, c.f"
    )
    rows = run(sql, [*recency_params, *members_params, *per_params], db)
    return [
        {
            "r": int(r),
            "f": int(f),
            "n": int(n),
            "monetary": Decimal(str(revenue)) if revenue is not None else None,
        }
        for r, f, n, revenue in rows
    ]


def _segment(r: int, f: int) -> str:
    if f == 0:
        return "no_purchase"
    if r >= 4 and f >= 4:
        return "champions"
    if r >= 3 and f >= 3:
        return "loyal"
    if r >= 4 and f == 1:
        return "new"
    if r >= 4:
        return "promising"
    if r == 3:
        return "needs_attention"
    if f >= 3:
        return "at_risk"
    return "hibernating"
