"""Times the KPI endpoints, the dashboard and the snapshot job on the benchmark database (run by
tests/perf/run.py; prints one JSON line).

The period is the 30 local days up to the newest transaction. The snapshot job backfills that
range (rows/s = transactions + ledger entries of the range / seconds); then each KPI endpoint
(`/api/v1/analytics/<kpi>/`), the dashboard page and its data request are called in-process
through Django's test client as a superuser (server time to the full response, no network),
median of --repeats calls."""

import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from analytics.api.views import VIEWS  # noqa: E402
from analytics.selectors.common import local_midnight, programme_zone  # noqa: E402
from analytics.services import kpi_snapshot_range_build  # noqa: E402
from loyalty.ledger.models import LedgerEntry, Transaction  # noqa: E402


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    zone = programme_zone()
    newest = Transaction.objects.aggregate(t=Max("occurred_at"))["t"]
    if newest is None:
        print(json.dumps({"error": "no transactions"}))
        return
    date_to = newest.astimezone(zone).date()
    date_from = date_to - timedelta(days=29)
    start, end = local_midnight(date_from, zone), local_midnight(date_to + timedelta(days=1), zone)
    source_rows = (
        Transaction.objects.filter(occurred_at__gte=start, occurred_at__lt=end).count()
        + LedgerEntry.objects.filter(effective_at__gte=start, effective_at__lt=end).count()
    )
    started = time.perf_counter()
    kpi_snapshot_range_build(date_from=date_from, date_to=date_to)
    snapshot_seconds = time.perf_counter() - started

    user, _ = get_user_model().objects.get_or_create(
        username="bench-analytics", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    api_params = {"from": date_from.isoformat(), "to": date_to.isoformat()}
    admin_params = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat()}
    targets = [(f"api {name}", reverse(f"analytics:{name}"), api_params) for name in VIEWS]
    targets += [
        ("dashboard page", reverse("admin:analytics_dashboard_changelist"), admin_params),
        ("dashboard data", reverse("admin:analytics_dashboard_data"), admin_params),
    ]
    client.get(targets[0][1], targets[0][2])  # warm-up: the first API call builds the schema
    timings = []
    for label, path, params in targets:
        seconds, status = [], 0
        for _ in range(repeats):
            began = time.perf_counter()
            response = client.get(path, params)
            seconds.append(time.perf_counter() - began)
            status = response.status_code
        timings.append({"name": label, "seconds": statistics.median(seconds), "status": status})
    print(
        json.dumps(
            {
                "range": [date_from.isoformat(), date_to.isoformat()],
                "snapshot_rows": source_rows,
                "snapshot_seconds": snapshot_seconds,
                "timings": timings,
            }
        )
    )


if __name__ == "__main__":
    main()
