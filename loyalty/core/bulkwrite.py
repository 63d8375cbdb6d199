"""Fast bulk writes for imports and the benchmark generator.

- `reserve_ids(model, n)`: n primary keys handed out before the rows exist, so that rows of
  several tables can point at each other before any of them is written (a purchase's lines, its
  ledger entry, the entry's lot). On PostgreSQL they come from the table's sequence (safe with
  concurrent writers); on SQLite the caller holds the database's single write lock (an atomic
  block in IMMEDIATE mode), so max(id) + 1 ... is safe too. Imports call it while the app runs.
- `reserve_id_block(model, n)`: the same for the benchmark generator only, without a nextval per
  id: under a session advisory lock per sequence, one nextval, then setval past the block. Safe
  among generator processes (they all take the lock), NOT with other writers calling nextval on
  the same sequence meanwhile (the app, an import): one of them could draw an id inside the
  block. The primary key stays in place, so such a clash fails the load rather than mixing
  rows, but do not run it against a live database. Elsewhere than PostgreSQL: `reserve_ids`.
- `insert_rows(model, columns, rows)`: PostgreSQL COPY (psycopg 3 `cursor.copy`, binary-free
  text format through write_row), elsewhere executemany-based bulk INSERT. Rows are tuples in the
  order of `columns` (database column names), values already in Python types (Decimal, aware
  datetime, dict/list for JSON columns).

- `deferred_indexes(models)`: for loading EMPTY tables on PostgreSQL (the benchmark generator):
  secondary indexes, unique and foreign-key constraints are dropped before and built once after,
  which is several times faster than maintaining ten indexes and a foreign-key check per row.
  The constraints are re-added (and so re-checked) at the end; with parallel=2 and outside a
  transaction, on two connections at once (indexes and unique constraints first, then the
  foreign keys, which run in parallel too unless two of them point at each other's tables).

Nothing here validates: callers validate before, and the database's constraints still apply.
"""

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, connections, models
from django.db.models.expressions import RawSQL

SQLITE_CHUNK = 5000


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    if count <= 0:
        return []
    table = model._meta.db_table
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT COALESCE(MAX("{pk}"), 0) FROM "{table}"')
        start = cursor.fetchone()[0] + 1
        # also past any id SQLite's autoincrement counter already handed out
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
        if cursor.fetchone():
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            if row and row[0] is not None:
                start = max(start, row[0] + 1)
        return list(range(start, start + count))


def reserve_id_block(model: type[models.Model], count: int) -> range:
    """`count` consecutive ids for the benchmark generator (see the module's docstring: safe
    among generator processes, not with concurrent nextval callers on the same table)."""
    if count <= 0:
        return range(0)
    if not is_postgres():
        ids = reserve_ids(model, count)
        return range(ids[0], ids[0] + count)
    table = model._meta.db_table
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, pk])
        sequence = cursor.fetchone()[0]
        # session-level, released at once: a transaction-level lock would be held until the
        # caller's (long) chunk transaction ends and serialise the generator's workers
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [sequence])
        try:
            cursor.execute("SELECT nextval(%s)", [sequence])
            first = cursor.fetchone()[0]
            if count > 1:
                cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
        finally:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [sequence])
    return range(first, first + count)


def in_values(queryset: models.QuerySet, field: str, values: Sequence[str | int]) -> Iterator:
    """Querysets that together match `field IN values`, for look-ups of thousands of keys (an
    import's member numbers, e-mails, phones). On PostgreSQL one query with the values as ONE
    array parameter (`IN (SELECT unnest(%s::text[]))`): an `IN (%s, %s, ...)` list of 10,000
    placeholders cost more to build in the ORM and to parse in psycopg than the query took to
    run. Elsewhere chunks under SQLite's bound-parameter limit."""
    values = list(values)
    if not values:
        return
    if is_postgres():
        cast = "bigint[]" if isinstance(values[0], int) else "text[]"
        yield queryset.filter(**{f"{field}__in": RawSQL(f"SELECT unnest(%s::{cast})", [values])})
        return
    chunk = min(connection.features.max_query_params or 5000, 5000)
    for start in range(0, len(values), chunk):
        yield queryset.filter(**{f"{field}__in": values[start : start + chunk]})


def _adapt(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _json_positions(model: type[models.Model] | str, columns: Sequence[str]) -> list[int] | None:
    """Positions of the JSON columns among `columns` (only they need json.dumps; checking every
    value of ten million rows was a sixth of the benchmark generator's time), None when only
    the table's name is known."""
    if isinstance(model, str):
        return None
    json_columns = {
        f.column for f in model._meta.concrete_fields if isinstance(f, models.JSONField)
    }
    return [i for i, column in enumerate(columns) if column in json_columns]


def _adapt_sqlite(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, datetime):
        # what the ORM stores on SQLite: naive UTC text
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def insert_rows(
    model: type[models.Model] | str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    progress: Any = None,
) -> int:
    """Write rows (COPY on PostgreSQL). Returns the number of rows written."""
    table = model if isinstance(model, str) else model._meta.db_table
    quote = connection.ops.quote_name
    cols = ", ".join(quote(c) for c in columns)
    written = 0
    with connection.cursor() as cursor:
        if is_postgres():
            raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
            json_at = _json_positions(model, columns)
            with raw.copy(f"COPY {quote(table)} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    if json_at is None:  # a table name: look at every value
                        row = [_adapt(v) for v in row]
                    elif json_at:
                        row = list(row)
                        for i in json_at:
                            row[i] = _adapt(row[i])
                    copy.write_row(row)
                    written += 1
                    if progress is not None and written % 10000 == 0:
                        progress.update(10000)
            if progress is not None:
                progress.update(written % 10000)
            return written
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {quote(table)} ({cols}) VALUES ({placeholders})"
        chunk: list[list[Any]] = []
        for row in rows:
            chunk.append([_adapt_sqlite(v) for v in row])
            if len(chunk) >= SQLITE_CHUNK:
                cursor.executemany(sql, chunk)
                written += len(chunk)
                if progress is not None:
                    progress.update(len(chunk))
                chunk = []
        if chunk:
            cursor.executemany(sql, chunk)
            written += len(chunk)
            if progress is not None:
                progress.update(len(chunk))
    return written


def model_columns(model: type[models.Model]) -> tuple[list[str], dict[str, Any]]:
    """Every concrete column except the id, with the value a row gets when none is given
    (field default, now for auto_now fields, "" for text, else NULL)."""
    from django.utils import timezone

    now = timezone.now()
    columns, defaults = [], {}
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            defaults[field.column] = now
        else:
            defaults[field.column] = field.get_default()  # "" for text fields without one
    return columns, defaults


def _run_on(parallel: int, statements: list[str]) -> None:
    """Each statement once, on `parallel` connections of their own (threads: psycopg waits
    without the GIL), each opened for this and closed after."""

    def worker(take: Callable[[], str | None]) -> None:
        try:
            with connection.cursor() as cursor:  # this thread's own connection
                cursor.execute("SET maintenance_work_mem = '512MB'")
                while (statement := take()) is not None:
                    cursor.execute(statement)
        finally:
            connections.close_all()  # this thread's only

    queue = list(reversed(statements))

    def take() -> str | None:
        return queue.pop() if queue else None  # list.pop is atomic under the GIL

    with ThreadPoolExecutor(parallel) as pool:
        for future in [pool.submit(worker, take) for _ in range(parallel)]:
            future.result()


@contextmanager
def deferred_indexes(tables: Sequence[type[models.Model]], *, parallel: int = 1) -> Iterator[bool]:
    """Drop secondary indexes and unique/foreign-key constraints of `tables` (PostgreSQL, all
    empty), yield True, then build them again, so a bulk load maintains none of them row by row.
    Yields False and changes nothing elsewhere or when a table holds rows. `parallel` > 1 builds
    them on that many connections at once when not inside a transaction."""
    names = [model._meta.db_table for model in tables]
    if not is_postgres() or any(model._default_manager.exists() for model in tables):
        yield False
        return
    with connection.cursor() as cursor:
        # ALTER TABLE is refused while deferred foreign-key checks are pending in this transaction
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # unique constraints that a foreign key relies on stay (PostgreSQL would refuse)
        cursor.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype,
                   c.confrelid::regclass::text
            FROM pg_constraint c
            WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('u', 'f')
              AND NOT (c.contype = 'u' AND EXISTS (
                  SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid))
            ORDER BY c.contype = 'u', c.conname
            """,
            [names],
        )
        constraints = cursor.fetchall()  # foreign keys first: they may rest on a unique index
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            ORDER BY 1
            """,
            [names],
        )
        indexes = cursor.fetchall()
        for table, name, *_ in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    try:
        yield True
    finally:
        if parallel > 1 and not connection.in_atomic_block:
            _rebuild_in_parallel(parallel, indexes, constraints)
        else:
            _rebuild(indexes, constraints)


def _rebuild(indexes: list, constraints: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        for table, name, definition, *_ in reversed(constraints):  # unique before foreign keys
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _rebuild_in_parallel(parallel: int, indexes: list, constraints: list) -> None:
    def add(table: str, name: str, definition: str) -> str:
        return f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'

    # one table each: any order is safe (they only wait for each other's table locks)
    _run_on(
        parallel,
        [definition for _, definition in indexes]
        + [add(t, n, d) for t, n, d, kind, _ in constraints if kind == "u"],
    )
    # a foreign key locks its table, then the referenced one: two pointing at each other's
    # tables at once could deadlock, so such a set is added one by one
    keys = [(t, n, d, ref) for t, n, d, kind, ref in constraints if kind == "f"]
    pairs = {(t, ref) for t, _, _, ref in keys if t != ref}
    crossing = any((ref, t) in pairs for t, ref in pairs)
    _run_on(1 if crossing else parallel, [add(t, n, d) for t, n, d, _ in keys])
