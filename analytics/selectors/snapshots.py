"""Daily figures for charts: the nightly snapshots, plus a live computation for the days they
do not cover yet (today, or days the job has not built), so today's figures are the snapshot
history and the live delta of the day so far."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connections
from django.utils import timezone

from analytics.models import KpiSnapshot
from analytics.selectors.common import Period
from analytics.selectors.daily import TOTAL, kpi_snapshot_days_compute
from analytics.snapshot_sql import snapshot_days_rows

SERIES_FIELDS = (
    "purchases",
    "member_purchases",
    "revenue",
    "member_revenue",
    "returns",
    "returned_amount",
    "buyers",
    "new_members",
    "members_total",
    "points_issued",
    "points_reversed",
    "points_redeemed",
    "points_expired",
    "points_adjusted",
    "outstanding_points",
)
MAX_LIVE_DAYS = 62  # beyond this, missing days stay empty: run the backfill command


def snapshot_series(period: Period) -> list[dict[str, Any]]:
    """One row per day of the range (all stores, or the period's store; the tier filter does
    not apply to snapshots), `source` "snapshot" or "live". Days after today are left out."""
    today = timezone.now().astimezone(period.zone).date()
    last = min(period.date_to, today)
    rows = KpiSnapshot.objects.filter(day__gte=period.date_from, day__lte=last)
    rows = rows.filter(store=period.store) if period.store else rows.filter(store__isnull=True)
    stored = {row.day: row for row in rows if row.day < today}  # today is always live
    missing = [
        period.date_from + timedelta(days=i)
        for i in range((last - period.date_from).days + 1)
        if period.date_from + timedelta(days=i) not in stored
    ]
    live: dict[date, dict[Any, dict[str, Any]]] = {}
    if missing:
        # one grouped computation from the first missing day (carrying on from the stored
        # day before it) to the end; older gaps beyond MAX_LIVE_DAYS stay "missing"
        first = max(missing[0], last - timedelta(days=MAX_LIVE_DAYS - 1))
        live = _days_compute(date_from=first, date_to=last)
    key = period.store.pk if period.store else TOTAL
    series, day = [], period.date_from
    while day <= last:
        if day in stored:
            values = {name: getattr(stored[day], name) for name in SERIES_FIELDS}
            source = "snapshot"
        elif day in live:
            values = {name: live[day].get(key, {}).get(name, 0) for name in SERIES_FIELDS}
            source = "live"
        else:
            values = dict.fromkeys(SERIES_FIELDS, 0)
            source = "missing"
        series.append({"day": day.isoformat(), "source": source, **values})
        day += timedelta(days=1)
    return series


def _days_compute(*, date_from: date, date_to: date) -> dict[date, dict[Any, dict[str, Any]]]:
    """The days' figures as `kpi_snapshot_days_compute` gives them (by store id, TOTAL), from
    the set-based statement of the snapshot job on PostgreSQL (same rows, one statement)."""
    alias = KpiSnapshot.objects.db  # the replica inside analytics_reads()
    if connections[alias].vendor != "postgresql":
        return kpi_snapshot_days_compute(date_from=date_from, date_to=date_to)
    days: dict[date, dict[Any, dict[str, Any]]] = {}
    for row in snapshot_days_rows(date_from=date_from, date_to=date_to, using=alias):
        key = TOTAL if row["store_id"] is None else row["store_id"]
        days.setdefault(row["day"], {})[key] = row
    return days


def snapshot_totals(
    period: Period, *, series: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Sums of the daily series over the range (outstanding points: at the last day); `series`:
    the period's `snapshot_series`, when the caller has it already."""
    if series is None:
        series = snapshot_series(period)
    totals: dict[str, Any] = {
        name: sum((row[name] for row in series), Decimal("0") if "revenue" in name else 0)
        for name in SERIES_FIELDS
        if name not in ("outstanding_points", "members_total", "returned_amount")
    }
    totals["returned_amount"] = sum((row["returned_amount"] for row in series), Decimal("0"))
    totals["outstanding_points"] = series[-1]["outstanding_points"] if series else 0
    totals["members_total"] = series[-1]["members_total"] if series else 0
    return totals
