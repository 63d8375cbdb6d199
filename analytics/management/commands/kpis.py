import json
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from analytics.routing import analytics_reads
from analytics.selectors import KPIS, kpis_all, period_resolve


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Print every programme KPI for a date range (programme time zone, both days included), "
        "optionally for one store and one tier; --json for scripts (keys are the KPI names)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="date_from", required=True, help="first day, 2026-01-01")
        parser.add_argument("--to", dest="date_to", required=True, help="last day, 2026-01-31")
        parser.add_argument("--store", help="store code, e.g. S001 (home store for members)")
        parser.add_argument("--tier", help="tier code, e.g. gold (tier held at the end)")
        parser.add_argument("--json", action="store_true", help="one JSON document")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            period = period_resolve(
                date_from=_date(options["date_from"]),
                date_to=_date(options["date_to"]),
                store=options.get("store"),
                tier=options.get("tier"),
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            ) from exc
        with analytics_reads() as alias:
            if options["verbosity"] >= 2:
                self.stderr.write(f"reading from database {alias!r}")
            result = kpis_all(period)
        if options["json"]:
            self.stdout.write(json.dumps(result, cls=DjangoJSONEncoder, indent=2))
            return
        filters = result["filters"]
        self.stdout.write(
            f"KPIs {filters['from']} .. {filters['to']}"
            f" store={filters['store'] or 'all'} tier={filters['tier'] or 'all'}"
        )
        for name in KPIS:
            self.stdout.write(f"\n{name}:")
            self._print(result[name], indent="  ")

    def _print(self, value: Any, indent: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, (dict, list)):
                    self.stdout.write(f"{indent}{key}:")
                    self._print(item, indent + "  ")
                else:
                    self.stdout.write(f"{indent}{key}: {_text(item)}")
        elif isinstance(value, list):
            if not value:
                self.stdout.write(f"{indent}(none)")
            for item in value:
                if isinstance(item, dict):
                    self.stdout.write(
                        indent
                        + ", ".join(
                            f"{k}={_text(v)}"
                            for k, v in item.items()
                            if not isinstance(v, (dict, list))
                        )
                    )
                else:
                    self.stdout.write(f"{indent}{_text(item)}")


def _text(value: Any) -> str:
    if value is None:
        return "n/a"
    return str(value)
