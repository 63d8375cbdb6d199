"""Per KPI (or the dashboard data), each SQL statement's time, slowest first: `DATABASE_URL=... uv
run --frozen python tests/perf/kpi_queries.py [kpi ...]` on the bench database (CaptureQueriesContext
around the selector, the 30 local days up to the newest transaction, as tests/perf/kpi.py),
inside analytics_reads() as the API runs them (PostgreSQL: the analytics settings, see
analytics/routing.py; ANALYTICS_WORK_MEM= ANALYTICS_JIT= empty to measure without them)."""

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
import django

django.setup()
from django.db import connection  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from analytics.dashboard import dashboard_data  # noqa: E402
from analytics.routing import analytics_reads  # noqa: E402
from analytics.selectors import KPIS, REPORTS, Period  # noqa: E402
from analytics.selectors.common import programme_zone  # noqa: E402
from analytics.selectors.snapshots import snapshot_series  # noqa: E402
from loyalty.ledger.models import Transaction  # noqa: E402

zone = programme_zone()
newest = Transaction.objects.aggregate(t=Max("occurred_at"))["t"]
date_to = newest.astimezone(zone).date()
period = Period(date_from=date_to - timedelta(days=29), date_to=date_to, zone=zone)
only = sys.argv[1:]
sel = {**KPIS, **REPORTS, "daily": snapshot_series, "dashboard_data": dashboard_data}
for name, fn in sel.items():
    if only and name not in only:
        continue
    with CaptureQueriesContext(connection) as ctx:
        t = time.perf_counter()
        with analytics_reads():
            fn(period)
        total = time.perf_counter() - t
    qs = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))
    print(f"== {name}: {total:.2f} s, {len(qs)} queries")
    for q in qs[:4]:
        print(f"   {float(q['time']):.2f} s  {q['sql'][:300]}")
    sys.stdout.flush()
