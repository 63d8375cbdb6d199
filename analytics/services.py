"""The only writes of the analytics app: its daily snapshots."""

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from analytics.models import KpiSnapshot
from analytics.selectors.common import programme_zone
from analytics.selectors.daily import (
    CHUNK_DAYS,
    TOTAL,
    kpi_snapshot_day_compute,
    kpi_snapshot_days_compute,
)
from analytics.snapshot_sql import snapshot_days_write


@transaction.atomic
def kpi_snapshot_day_build(*, day: date) -> int:
    """Replace the day's snapshot rows (one per store seen that day or holding members' points,
    and the all-stores row). Idempotent: building a day twice leaves the same rows. The
    outstanding points carry on from the previous day's rows when they exist (build a range in
    order: `kpi_snapshot_range_build`), else they are summed from the ledger (on PostgreSQL
    possibly as the balances less the later entries: analytics/snapshot_sql.py). Returns rows."""
    if _set_based():
        return snapshot_days_write(date_from=day, date_to=day)
    return _write_day(day, kpi_snapshot_day_compute(day=day))


def _set_based() -> bool:
    """PostgreSQL computes and writes a chunk's rows in the database (analytics/snapshot_sql.py);
    elsewhere the rows are computed by the portable grouped queries and written from Python."""
    return connection.vendor == "postgresql"


def _write_day(day: date, figures: dict[Any, dict[str, Any]]) -> int:
    KpiSnapshot.objects.filter(day=day).delete()
    rows = [
        KpiSnapshot(day=day, store_id=None if key in (TOTAL, None) else key, **values)
        for key, values in figures.items()
        if key is not None  # members without a home store only count in the total
    ]
    KpiSnapshot.objects.bulk_create(rows)
    return len(rows)


def kpi_snapshot_range_build(
    *, date_from: date, date_to: date, progress: Callable[[int], Any] | None = None
) -> int:
    """Build every day of the range in order, a chunk of up to CHUNK_DAYS days per transaction
    (a failure keeps the chunks already built, and a re-run replaces whole days, so it repeats
    nothing wrong). Returns the rows written; `progress` is called with the days of each chunk
    once it is committed."""
    written, chunk_start = 0, date_from
    while chunk_start <= date_to:
        chunk_end = min(chunk_start + timedelta(days=CHUNK_DAYS - 1), date_to)
        with transaction.atomic():
            if _set_based():
                written += snapshot_days_write(date_from=chunk_start, date_to=chunk_end)
            else:
                days = kpi_snapshot_days_compute(date_from=chunk_start, date_to=chunk_end)
                for day, figures in days.items():
                    written += _write_day(day, figures)
        if progress:
            progress((chunk_end - chunk_start).days + 1)
        chunk_start = chunk_end + timedelta(days=1)
    return written


MAX_BUILD_DAYS = 732  # closed days a read may build on the way (two years); older: the command


def kpi_snapshot_missing_build(*, date_from: date, date_to: date) -> int:
    """Build the closed days of the range (before today, local; at most the newest
    MAX_BUILD_DAYS of them) that have no snapshot yet, each run of consecutive missing days by
    `kpi_snapshot_range_build`, so that a day is computed and stored once and later reads find
    it. Days already built are left as they are. Returns the rows written."""
    today = timezone.now().astimezone(programme_zone()).date()
    last = min(date_to, today - timedelta(days=1))
    first = max(date_from, last - timedelta(days=MAX_BUILD_DAYS - 1))
    if last < first:
        return 0
    built = set(
        KpiSnapshot.objects.using("default")
        .filter(day__gte=first, day__lte=last, store__isnull=True)
        .values_list("day", flat=True)
    )
    written, run_start, day = 0, None, first
    while day <= last + timedelta(days=1):
        missing = day <= last and day not in built
        if missing and run_start is None:
            run_start = day
        elif not missing and run_start is not None:
            written += kpi_snapshot_range_build(
                date_from=run_start, date_to=day - timedelta(days=1)
            )
            run_start = None
        day += timedelta(days=1)
    return written
