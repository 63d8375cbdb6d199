from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from analytics.selectors.common import programme_zone
from analytics.services import kpi_snapshot_day_build, kpi_snapshot_range_build


@shared_task
def kpi_snapshot_build_task(day: str | None = None) -> int:
    """Build the snapshot of `day` (ISO date; default yesterday, local). Idempotent per day:
    safe to re-run. Returns the rows written."""
    if day:
        return kpi_snapshot_day_build(day=date.fromisoformat(day))
    yesterday = timezone.now().astimezone(programme_zone()).date() - timedelta(days=1)
    return kpi_snapshot_day_build(day=yesterday)


@shared_task
def kpi_snapshot_range_build_task(date_from: str, date_to: str) -> int:
    return kpi_snapshot_range_build(
        date_from=date.fromisoformat(date_from), date_to=date.fromisoformat(date_to)
    )
