"""The statements of one purchase through the API by a member in the bench campaigns' audience
(not held out), with the three bench campaigns active (CAMPAIGN_SETUP of tests/perf/run.py,
launched). Not a test: run by hand on the benchmark database, e.g.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench \
        uv run --frozen python tests/perf/profile_campaigns.py [--profile]

Prints each SQL statement of a purchase of 120.00 (it earns the multiplier and the fixed bonus)
that moves nobody up a tier, then the mean time of 100 such purchases in a row.
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DEBUG", "False")
os.environ.setdefault("LOG_LEVEL", "ERROR")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from campaigns.models import CampaignAudience  # noqa: E402
from loyalty.integrations.services import api_client_create  # noqa: E402


def main() -> None:
    key = api_client_create(
        name="profile", scopes=["transactions:write", "members:read"], rate_limit_per_minute=10**9
    ).key
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    ids = list(
        CampaignAudience.objects.filter(
            campaign__status="active", campaign__mechanic="fixed_bonus", holdout=False
        ).values_list("member_id", flat=True)[:300]
    )
    run = f"s{int(time.time())}"

    def purchase(i: int) -> None:
        response = client.post(
            "/api/v1/ledger/purchases/",
            {"member_id": ids[i], "channel": "api", "external_id": f"{run}-{i}", "amount": "120"},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content

    purchase(0)  # warm
    for i in range(1, 20):
        with CaptureQueriesContext(connection) as ctx:
            purchase(i)
        if not any('INSERT INTO "tiers_tierassignment"' in q["sql"] for q in ctx):
            break
    print(len(ctx.captured_queries), "statements")
    for n, q in enumerate(ctx.captured_queries, 1):
        print(f"{n:3d} {float(q['time']) * 1000:6.2f} ms {q['sql'][:170]}")
    started = time.perf_counter()
    for i in range(20, 120):
        purchase(i)
    print(f"{(time.perf_counter() - started) / 100 * 1000:.1f} ms per purchase (100 in a row)")
    if "--profile" in sys.argv:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        with profiler:
            for i in range(120, 280):
                purchase(i)
        print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
