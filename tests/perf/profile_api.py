"""Profile one purchase and one clerk lookup through the whole Django stack (middleware, Api-Key
authentication, request log), on the benchmark database. Not a test: run by hand, e.g.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_h_earn \
        uv run --frozen --with pyinstrument python tests/perf/profile_api.py [--profile] [--repeat N]

Prints each SQL statement of a warm purchase (one that changes no tier) and of a warm lookup,
then, with --profile, pyinstrument's tree over N requests; --explain prints EXPLAIN ANALYZE of
the lookup's queries for each kind of key.
"""

import argparse
import os
import random
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

from loyalty.integrations.services import api_client_create  # noqa: E402
from members.models import Member  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", action="store_true", help="pyinstrument over --repeat calls")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--lookup", default="", help="lookup query (default: a sample last name)")
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE the lookup's queries per key kind"
    )
    args = parser.parse_args()
    if args.explain:
        explain()
        return

    key = api_client_create(
        name="profile", scopes=["transactions:write", "members:read"], rate_limit_per_minute=10**9
    ).key
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    ids = list(Member.objects.filter(status="active").values_list("pk", flat=True)[:5000])
    sample = Member.objects.filter(pk__in=ids[:50]).values_list("last_name", flat=True)
    run = f"p{int(time.time())}"
    counter = iter(range(10**9))

    def purchase() -> None:
        response = client.post(
            "/api/v1/ledger/purchases/",
            {
                "member_id": random.choice(ids),
                "channel": "api",
                "external_id": f"{run}-{next(counter)}",
                "amount": f"{random.randint(1, 200)}.{random.randint(0, 99):02d}",
            },
            content_type="application/json",
        )
        assert response.status_code == 201, response.content

    query = args.lookup or sorted(sample)[0][:4]

    def lookup() -> None:
        response = client.get("/api/v1/members/lookup/", {"q": query})
        assert response.status_code == 200, response.content

    width = int(os.environ.get("SQL_WIDTH", "220"))
    for name, call in (("purchase", purchase), (f"lookup q={query!r}", lookup)):
        call()  # warm: the key's last use, the connection, Python's imports
        # the first call that moves nobody up a tier (about 1 purchase in 7 on the bench data
        # does, and writes tier rows and a gift on top): the steady-state list
        for _ in range(20):
            with CaptureQueriesContext(connection) as ctx:
                call()
            if not any('INSERT INTO "tiers_tierassignment"' in q["sql"] for q in ctx):
                break
        print(f"\n== {name}: {len(ctx.captured_queries)} statements")
        for i, q in enumerate(ctx.captured_queries, 1):
            print(f"{i:3d} {float(q['time']) * 1000:6.2f} ms  {q['sql'][:width]}")
        started = time.perf_counter()
        for _ in range(50):
            call()
        print(f"-- {(time.perf_counter() - started) / 50 * 1000:.1f} ms per call (50 in a row)")
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            with profiler:
                for _ in range(args.repeat):
                    call()
            print(profiler.output_text(unicode=False, color=False, show_all=False))


def explain() -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of every query member_lookup runs, for each kind of key."""
    from members.selectors import member_lookup

    sample = Member.objects.filter(erased_at__isnull=True, email__isnull=False, phone__isnull=False)
    member = sample.order_by("pk")[500]
    for kind, query in (
        ("card number", member.member_number),
        ("phone", member.phone),
        ("e-mail", member.email),
        ("name prefix", member.last_name[:4]),
        ("first name prefix", member.first_name[:4]),
    ):
        with CaptureQueriesContext(connection) as ctx:
            member_lookup(query=query)
        for q in ctx.captured_queries:
            if "members_consent" in q["sql"]:
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + q["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
            print(f"\n== {kind} q={query!r}\n{q['sql']}\n{plan}")


if __name__ == "__main__":
    main()
