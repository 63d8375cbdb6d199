"""EXPLAIN (ANALYZE, BUFFERS) of the slowest statement of each named KPI on the bench database:
`DATABASE_URL=... uv run --frozen python tests/perf/kpi_explain.py kpi [kpi ...]`, inside
analytics_reads() as the API runs them (the analytics settings on PostgreSQL)."""

import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
import django

django.setup()
from django.db import connection  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from analytics.routing import analytics_reads  # noqa: E402
from analytics.selectors import KPIS, REPORTS, Period  # noqa: E402
from analytics.selectors.common import programme_zone  # noqa: E402
from analytics.selectors.snapshots import snapshot_series  # noqa: E402
from loyalty.ledger.models import Transaction  # noqa: E402

zone = programme_zone()
newest = Transaction.objects.aggregate(t=Max("occurred_at"))["t"]
date_to = newest.astimezone(zone).date()
period = Period(date_from=date_to - timedelta(days=29), date_to=date_to, zone=zone)
sel = {**KPIS, **REPORTS, "daily": snapshot_series}
for name in sys.argv[1:]:
    with CaptureQueriesContext(connection) as ctx, analytics_reads():
        sel[name](period)
    q = max(ctx.captured_queries, key=lambda q: float(q["time"]))
    print(f"== {name}: slowest statement {float(q['time']):.2f} s\n{q['sql']}\n")
    with analytics_reads(), connection.cursor() as c:
        c.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
        for (line,) in c.fetchall():
            print(line)
    print(flush=True)
