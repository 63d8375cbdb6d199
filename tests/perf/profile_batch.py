"""Profile the batch purchases endpoint in process, on a benchmark database. Not a test: run by
hand, e.g.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench_batch \
        uv run --frozen python tests/perf/profile_batch.py [--size 200] [--repeat 5] [--profile]

Prints the mode (set-based or why per item), the statements of one warm batch grouped by their
first words, the time per batch and per purchase, and with --profile cProfile's top functions.
"""

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
from collections import Counter
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

from loyalty.integrations.services import api_client_create  # noqa: E402
from loyalty.ledger.batch import batch_blockers  # noqa: E402
from members.models import Member  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print("mode:", batch_blockers() or "set-based")
    key = api_client_create(
        name="profile batch", scopes=["transactions:write"], rate_limit_per_minute=10**9
    ).key
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    ids = list(Member.objects.filter(status="active").values_list("pk", flat=True)[:50000])
    run = f"pb{int(time.time())}"
    counter = iter(range(10**9))

    def batch() -> None:
        body = {
            "purchases": [
                {
                    "member_id": random.choice(ids),
                    "channel": "api",
                    "external_id": f"{run}-{next(counter)}",
                    "amount": f"{random.randint(1, 200)}.{random.randint(0, 99):02d}",
                }
                for _ in range(args.size)
            ]
        }
        response = client.post("/api/v1/ledger/purchases/batch/", body, "application/json")
        assert response.status_code == 200, response.content[:500]
        assert response.json()["created"] == args.size, response.json()["results"][:3]

    batch()  # warm
    with CaptureQueriesContext(connection) as ctx:
        batch()
    kinds = Counter(" ".join(q["sql"].split()[:3])[:60] for q in ctx.captured_queries)
    print(f"\n== one batch of {args.size}: {len(ctx.captured_queries)} statements")
    for kind, count in kinds.most_common(25):
        print(f"{count:5d}  {kind}")
    if not args.repeat:  # --repeat 0: the statements only (no timing: no bench lock needed)
        return
    started = time.perf_counter()
    for _ in range(args.repeat):
        batch()
    seconds = (time.perf_counter() - started) / args.repeat
    print(f"-- {seconds * 1000:.0f} ms per batch, {seconds / args.size * 1000:.2f} ms per purchase")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.repeat):
            batch()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main()
