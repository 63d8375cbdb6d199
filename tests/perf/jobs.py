"""Times the nightly jobs on the benchmark database (run by tests/perf/run.py; prints JSON).

Each job runs once on the data as generated (a second run would find nothing to do); rows/s is
the number of ledger entries in the database divided by the job's seconds, the measure the issue
asks for ("on 10M ledger entries")."""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from loyalty.ledger.models import LedgerEntry  # noqa: E402
from loyalty.ledger.services.jobs import (  # noqa: E402
    ledger_reconcile,
    points_expire_due,
    points_release_pending,
)
from loyalty.tiers.services import tier_period_end_evaluate  # noqa: E402


def timed(name: str, job, results: list) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    try:
        outcome = job()
        error = ""
    except Exception as exc:
        outcome, error = None, f"{exc.__class__.__name__}: {exc}"
    seconds = time.perf_counter() - started
    results.append(
        {"job": name, "seconds": seconds, "outcome": repr(outcome)[:120], "error": error}
    )


def main() -> None:
    entries = LedgerEntry.objects.count()
    results: list = []
    timed("expiry", points_expire_due, results)
    timed("pending release", points_release_pending, results)
    timed("tier period end", lambda: tier_period_end_evaluate().judged, results)
    timed("reconcile", lambda: len(ledger_reconcile()), results)
    print(json.dumps({"entries": entries, "jobs": results}))


if __name__ == "__main__":
    main()
