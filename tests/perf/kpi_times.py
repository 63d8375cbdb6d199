"""Times the KPI snapshot backfill of the 30 local days up to the newest transaction (twice, each
with the day before the range not built, as in the suite; rows/s = transactions + ledger entries
of the range / seconds) and the selectors named (3 calls each: median and all three;
`dashboard_data`'s first call builds the previous period's missing snapshots), with the code of
the current directory: `cd CHECKOUT && DATABASE_URL=... python /path/to/tests/perf/kpi_times.py
snapshot active_members ... dashboard_data`. It WRITES snapshots: run it on a copy of the
bench database, never on the shared one."""

import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
import django

django.setup()
from django.db.models import Max  # noqa: E402

from analytics.dashboard import dashboard_data  # noqa: E402
from analytics.models import KpiSnapshot  # noqa: E402
from analytics.selectors import KPIS, REPORTS, Period  # noqa: E402
from analytics.selectors.common import local_midnight, programme_zone  # noqa: E402
from analytics.selectors.snapshots import snapshot_series  # noqa: E402
from analytics.services import kpi_snapshot_range_build  # noqa: E402
from loyalty.ledger.models import LedgerEntry, Transaction  # noqa: E402


def load() -> str:
    return Path("/proc/loadavg").read_text().strip()


def main() -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print("commit", commit, "cwd", os.getcwd())
    print("uptime", load())
    zone = programme_zone()
    newest = Transaction.objects.aggregate(t=Max("occurred_at"))["t"]
    date_to = newest.astimezone(zone).date()
    date_from = date_to - timedelta(days=29)
    period = Period(date_from=date_from, date_to=date_to, zone=zone)
    names = sys.argv[1:]
    if "snapshot" in names:
        start = local_midnight(date_from, zone)
        end = local_midnight(date_to + timedelta(days=1), zone)
        rows = (
            Transaction.objects.filter(occurred_at__gte=start, occurred_at__lt=end).count()
            + LedgerEntry.objects.filter(effective_at__gte=start, effective_at__lt=end).count()
        )
        for i in range(2):
            KpiSnapshot.objects.filter(day=date_from - timedelta(days=1)).delete()
            began = time.perf_counter()
            written = kpi_snapshot_range_build(date_from=date_from, date_to=date_to)
            seconds = time.perf_counter() - began
            print(
                f"snapshot {date_from}..{date_to} run {i + 1}: {seconds:.2f} s, {rows} source "
                f"rows, {rows / seconds:,.0f} rows/s, {written} rows written",
                flush=True,
            )
    selectors = {**KPIS, **REPORTS, "daily": snapshot_series, "dashboard_data": dashboard_data}
    for name in names:
        if name not in selectors:
            continue
        times = []
        for _ in range(3):
            began = time.perf_counter()
            selectors[name](period)
            times.append(time.perf_counter() - began)
        each = ", ".join(f"{t:.2f}" for t in times)
        print(f"{name}: median {statistics.median(times):.2f} s ({each})", flush=True)
    print("uptime", load())


if __name__ == "__main__":
    main()
