"""The only writes of the analytics app: its daily snapshots."""

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.db import transaction

from analytics.models import KpiSnapshot
from analytics.selectors.daily import (
    CHUNK_DAYS,
    TOTAL,
    kpi_snapshot_day_compute,
    kpi_snapshot_days_compute,
)


@transaction.atomic
def kpi_snapshot_day_build(*, day: date) -> int:
    """Replace the day's snapshot rows (one per store seen that day or holding members' points,
    and the all-stores row). Idempotent: building a day twice leaves the same rows. The
    outstanding points carry on from the previous day's rows when they exist (build a range in
    order: `kpi_snapshot_range_build`), else they are summed from the ledger. Returns rows."""
    return _write_day(day, kpi_snapshot_day_compute(day=day))


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
    """Build every day of the range in order (one transaction per day, so a failure keeps the
    days already built and a re-run repeats nothing wrong). Returns the rows written."""
    written, chunk_start = 0, date_from
    while chunk_start <= date_to:
        chunk_end = min(chunk_start + timedelta(days=CHUNK_DAYS - 1), date_to)
        days = kpi_snapshot_days_compute(date_from=chunk_start, date_to=chunk_end)
        for day, figures in days.items():
            with transaction.atomic():
                written += _write_day(day, figures)
            if progress:
                progress(1)
        chunk_start = chunk_end + timedelta(days=1)
    return written
