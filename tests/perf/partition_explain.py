"""The partitioning plan of docs/scaling.md, measured: EXPLAIN (ANALYZE, BUFFERS) of the expiry
statement (EXPIRE_SQL, first batch of 20,000 accounts) and of the reconcile statement
(RECONCILE_SQL, first 50,000 accounts) on ledger_ledgerentry and on ledger_entry_part, a copy
of the same rows partitioned by month of effective_at (built by --build).

Only for a benchmark copy (never the shared bench database): --build adds a table of the size
of the entry table. The expiry runs in transactions that are rolled back.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench_scale \\
        uv run --frozen python tests/perf/partition_explain.py --build --rounds 2
"""

import argparse
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from loyalty.ledger.services.jobs import EXPIRE_SQL, RECONCILE_SQL  # noqa: E402

PART = "ledger_entry_part"
# what the live table's indexes become: every unique one must include the partition key
PART_INDEXES = [
    f"ALTER TABLE {PART} ADD PRIMARY KEY (id, effective_at)",
    f"CREATE INDEX {PART}_statement ON {PART} (account_id, effective_at, id)",
    f"CREATE UNIQUE INDEX {PART}_idempotency ON {PART} (account_id, idempotency_key, effective_at)",
    f"CREATE INDEX {PART}_source ON {PART} (source_type, source_id)",
    f"CREATE INDEX {PART}_kind_time ON {PART} (kind, effective_at)",
    f"CREATE INDEX {PART}_created_at ON {PART} (created_at)",
    f"CREATE INDEX {PART}_created_by ON {PART} (created_by_id) WHERE created_by_id IS NOT NULL",
    f"CREATE UNIQUE INDEX {PART}_single_reversal ON {PART} (reverses_id, effective_at) "
    "WHERE reverses_id IS NOT NULL",
]

# On a partitioned table the latest entry cannot be fetched by id alone without probing every
# partition; this variant takes its balance_after in the same aggregate instead.
RECONCILE_PART_SQL = (
    RECONCILE_SQL.replace(
        "SUM(amount) AS total, MAX(id) AS last_id",
        "SUM(amount) AS total, MAX(id) AS last_id, "
        "(array_agg(balance_after ORDER BY id DESC))[1] AS last_after",
    )
    .replace(
        """a.balance = (
        SELECT balance_after FROM ledger_ledgerentry WHERE id = e.last_id
    )""",
        "a.balance = e.last_after",
    )
    .replace("(SELECT balance_after FROM ledger_ledgerentry WHERE id = e.last_id)", "e.last_after")
)


def say(text: str) -> None:
    print(text, flush=True)


def build() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [PART])
        if cursor.fetchone()[0]:
            say(f"{PART} exists")
            return
        cursor.execute(
            "SELECT date_trunc('month', min(effective_at)), date_trunc('month', max(effective_at))"
            " FROM ledger_ledgerentry"
        )
        first, last = cursor.fetchone()
        started = time.perf_counter()
        cursor.execute(
            f"CREATE TABLE {PART} (LIKE ledger_ledgerentry INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS) PARTITION BY RANGE (effective_at)"
        )
        cursor.execute(
            "SELECT m, m + interval '1 month' FROM generate_series(%s::timestamptz, "
            "%s::timestamptz + interval '2 months', interval '1 month') AS m",
            [first, last],
        )
        months = cursor.fetchall()
        for lo, hi in months:
            cursor.execute(
                f"CREATE TABLE {PART}_{lo:%Y_%m} PARTITION OF {PART} FOR VALUES FROM (%s) TO (%s)",
                [lo, hi],
            )
        cursor.execute(f"CREATE TABLE {PART}_default PARTITION OF {PART} DEFAULT")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(f"INSERT INTO {PART} SELECT * FROM ledger_ledgerentry")
        for statement in PART_INDEXES:
            cursor.execute(statement)
        cursor.execute(f"ANALYZE {PART}")
        say(
            f"built {PART}: {len(months)} monthly partitions ({months[0][0]:%Y-%m} to "
            f"{months[-1][0]:%Y-%m}) + default in {time.perf_counter() - started:.1f} s"
        )


def explain(sql: str, params: dict) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def expiry_batch() -> tuple[list[int], datetime]:
    """The first 20,000 accounts with due lots as of now; on a copy whose expiry already ran
    (nothing due), as of 30, 60, ... days ahead until a full batch is due (printed)."""
    as_of = timezone.now()
    for _ in range(13):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT account_id FROM ledger_pointslot WHERE remaining > 0 "
                "AND expires_at <= %s ORDER BY account_id LIMIT 20000",
                [as_of],
            )
            ids = [row[0] for row in cursor.fetchall()]
        if len(ids) >= 20000:
            break
        as_of += timedelta(days=30)
    return ids, as_of


def reconcile_range() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(id) FROM (SELECT id FROM ledger_pointsaccount ORDER BY id LIMIT 50000) s"
        )
        return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if args.build:
        build()
    ids, as_of = expiry_batch()
    hi = reconcile_range()
    say(f"expiry batch: {len(ids)} accounts (as of {as_of.isoformat()}); reconcile: ids <= {hi}")
    params = {"ids": ids, "as_of": as_of, "now": timezone.now(), "suffix": as_of.isoformat()}
    for round_ in range(1, args.rounds + 1):
        for table in ("ledger_ledgerentry", PART):
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT id FROM ledger_pointsaccount WHERE id = ANY(%s) ORDER BY id "
                        "FOR UPDATE",
                        [ids],
                    )
                plan = explain(EXPIRE_SQL.replace("ledger_ledgerentry", table), params)
                transaction.set_rollback(True)
            say(f"\n=== round {round_}: EXPIRE_SQL on {table}\n{plan}")
            reconcile = RECONCILE_SQL.replace("ledger_ledgerentry", table)
            say(
                f"\n=== round {round_}: RECONCILE_SQL on {table}\n"
                + explain(reconcile, {"lo": 0, "hi": hi})
            )
            if table == PART:
                variant = RECONCILE_PART_SQL.replace("ledger_ledgerentry", table)
                say(
                    f"\n=== round {round_}: RECONCILE_SQL, latest entry in the aggregate, on "
                    f"{table}\n" + explain(variant, {"lo": 0, "hi": hi})
                )


if __name__ == "__main__":
    main()
