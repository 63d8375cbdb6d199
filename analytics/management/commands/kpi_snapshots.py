from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from analytics.selectors.common import programme_zone
from analytics.services import kpi_snapshot_range_build


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Build (or rebuild) the daily KPI snapshots of a range of days, oldest first, with a "
        "progress bar. Idempotent per day; default: yesterday."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="date_from", help="first day, e.g. 2026-01-01")
        parser.add_argument("--to", dest="date_to", help="last day (default: yesterday)")

    def handle(self, *args: Any, **options: Any) -> None:
        yesterday = timezone.now().astimezone(programme_zone()).date() - timedelta(days=1)
        date_to = _date(options["date_to"]) if options["date_to"] else yesterday
        date_from = _date(options["date_from"]) if options["date_from"] else date_to
        if date_to < date_from:
            raise CommandError("--to must not be before --from.")
        days = (date_to - date_from).days + 1
        with tqdm(total=days, unit=" days", file=self.stderr, disable=False) as bar:
            rows = kpi_snapshot_range_build(
                date_from=date_from, date_to=date_to, progress=bar.update
            )
        self.stdout.write(
            self.style.SUCCESS(f"{days} day(s) built, {rows} snapshot row(s) written")
        )
