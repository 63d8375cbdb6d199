"""Nightly and hourly jobs: expiry, pending release notices, expiry warnings, reconciliation.

Expiry works in batches of accounts, one transaction each: lock the batch (pk order), then on
PostgreSQL one statement (EXPIRE_SQL) and elsewhere a handful of set-based ORM statements; lots
are never loaded or looped over in Python. Release is one INSERT ... SELECT on PostgreSQL. All
are idempotent and safe to run twice at once (the second run waits on the account locks, then
finds nothing left to do). docs/performance.md has the EXPLAINs and the figures.
"""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import F, Max, Sum
from django.utils import timezone

from loyalty.core import events
from loyalty.ledger.locks import lock_accounts
from loyalty.ledger.models import (
    LedgerEntry,
    LotAllocation,
    NotificationOutbox,
    PointsAccount,
    PointsLot,
)

BATCH = 1000
SQL_BATCH = 20_000  # accounts per transaction of the set-based path


def _account_batches(lots_filter: dict[str, Any], batch: int = BATCH) -> Any:
    if connection.vendor == "postgresql":
        # The accounts with due lots, read once and cut into batches: one scan of the due lots
        # instead of one per batch (on 10M lots the repeated scans were a third of the expiry).
        # Lots falling due after this read are the next run's; lots emptied by a concurrent
        # run are found empty under the batch's locks.
        ids = list(
            PointsLot.objects.filter(**lots_filter)
            .order_by("account_id")
            .values_list("account_id", flat=True)
            .distinct()
        )
        for start in range(0, len(ids), batch):
            yield ids[start : start + batch]
        return
    last = 0
    while True:
        ids = list(
            PointsLot.objects.filter(account_id__gt=last, **lots_filter)
            .order_by("account_id")
            .values_list("account_id", flat=True)
            .distinct()[:batch]
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


def points_expire_due(
    *,
    as_of: datetime | None = None,
    batch: int | None = None,
    set_based: bool | None = None,
    workers: int | None = None,
) -> int:
    """Expire what is left of every lot whose expiry has passed; returns points expired.

    One EXPIRE entry per account and run (idempotency key expire:<account>:<as_of>), with an
    allocation per lot, so spent points are never expired and a lot's remainder only once.
    Each batch of accounts is one transaction under the accounts' row locks (pk order).

    On PostgreSQL (`set_based` None or True) a batch is one statement of data-modifying CTEs
    (UPDATE accounts, INSERT entries, INSERT allocations, UPDATE lots); elsewhere, or with
    `set_based=False`, the ORM path below. Both write the same rows
    (tests/ledger/test_jobs_set_based.py compares them).

    The set-based batches run on `workers` connections at once (default
    settings.LEDGER_EXPIRY_WORKERS): the batches hold disjoint accounts, each locked in pk order,
    so they never wait on each other. Only outside a transaction (a caller's transaction would
    not be seen by the other connections); inside one, and with one worker, batch by batch.
    """
    as_of = as_of or timezone.now()
    if set_based is None:
        set_based = connection.vendor == "postgresql"
    if set_based:
        expire = _expire_batch_sql
        batch = batch or SQL_BATCH
    else:
        expire = _expire_batch
        batch = batch or BATCH
    batches = _account_batches({"remaining__gt": 0, "expires_at__lte": as_of}, batch)
    if workers is None:
        workers = int(getattr(settings, "LEDGER_EXPIRY_WORKERS", 1) or 1)
    if set_based and workers > 1 and not connection.in_atomic_block:
        return _expire_on_workers(batches, as_of, workers)
    total = 0
    for ids in batches:
        total += expire(ids, as_of)
    return total


def _expire_on_workers(batches: Iterator[list[int]], as_of: datetime, workers: int) -> int:
    """_expire_batch_sql for each batch, on `workers` threads with a connection each (psycopg
    waits for the server without the GIL). Each batch is its own transaction, as in the serial
    path; after a failure no thread takes a new batch, the failure is raised once every thread
    has stopped (batches committed before it stay, the failed one leaves nothing)."""
    take_lock = threading.Lock()
    totals: list[int] = []
    failures: list[BaseException] = []

    def take() -> list[int] | None:
        with take_lock:
            if failures:
                return None
            return next(batches, None)

    def worker() -> None:
        try:
            while (ids := take()) is not None:
                points = _expire_batch_sql(ids, as_of)
                with take_lock:
                    totals.append(points)
        except BaseException as exc:  # re-raised in the caller's thread
            with take_lock:
                failures.append(exc)
        finally:
            connections.close_all()  # this thread's own connections only

    threads = [threading.Thread(target=worker, name=f"expiry-{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return sum(totals)


# One round trip per batch of accounts, the locks already held. The lots are read once
# (due_lots, MATERIALIZED so every CTE sees the same rows); all CTEs share one snapshot, so
# the lot UPDATE and the allocation INSERT read the remainders as they were before the run.
EXPIRE_SQL = """
WITH due_lots AS MATERIALIZED (
    SELECT id, account_id, remaining FROM ledger_pointslot
    WHERE account_id = ANY(%(ids)s) AND remaining > 0 AND expires_at <= %(as_of)s
),
due AS (
    SELECT account_id, SUM(remaining)::bigint AS points FROM due_lots GROUP BY account_id
),
acc AS (
    UPDATE ledger_pointsaccount a SET balance = a.balance - due.points, updated_at = %(now)s
    FROM due WHERE a.id = due.account_id
    RETURNING a.id, a.member_id, a.balance, due.points
),
ent AS (
    INSERT INTO ledger_ledgerentry (
        account_id, kind, amount, balance_after, source_type, source_id, idempotency_key,
        reason, rules, metadata, effective_at, created_at
    )
    SELECT id, 'expire', -points, balance, 'expiry', '', 'expire:' || id || ':' || %(suffix)s,
        'points expired', '[]'::jsonb, '{}'::jsonb, %(as_of)s, %(now)s
    FROM acc ORDER BY id
    RETURNING id, account_id
),
alloc AS (
    INSERT INTO ledger_lotallocation (entry_id, lot_id, points)
    SELECT ent.id, d.id, d.remaining FROM due_lots d JOIN ent ON ent.account_id = d.account_id
    ORDER BY d.id
),
emptied AS (
    -- by primary key lookups: a join here was planned as a merge over every lot
    UPDATE ledger_pointslot SET remaining = 0 WHERE id = ANY(ARRAY(SELECT id FROM due_lots))
)
SELECT acc.id, acc.member_id, m.member_number, acc.points, acc.balance
FROM acc JOIN members_member m ON m.id = acc.member_id
ORDER BY acc.id
"""


@transaction.atomic
def _expire_batch_sql(account_ids: list[int], as_of: datetime) -> int:
    """PostgreSQL: lock the batch's accounts (pk order, like every writer), then EXPIRE_SQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM ledger_pointsaccount WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            [account_ids],
        )
        # re-read under the locks (in EXPIRE_SQL): a run that got here first emptied these lots
        cursor.execute(
            EXPIRE_SQL,
            {
                "ids": account_ids,
                "as_of": as_of,
                "now": timezone.now(),
                "suffix": as_of.isoformat(),
            },
        )
        rows = cursor.fetchall()
    _publish_expired([row[1:] for row in rows], as_of)
    return sum(row[3] for row in rows)


def _publish_expired(rows: list[tuple[int, str, int, int]], as_of: datetime) -> None:
    """One event per member and run (not per lot), sent together after the batch commits.
    rows: (member_id, member_number, points, balance after)."""
    events.publish_many(
        "points.expired",
        [
            {
                "member_id": member_id,
                "member_number": member_number,
                "points": points,
                "balance": balance,
                "occurred_at": as_of.isoformat(),
            }
            for member_id, member_number, points, balance in rows
        ],
    )


@transaction.atomic
def _expire_batch(account_ids: list[int], as_of: datetime) -> int:
    """Lock the batch's accounts, then a constant number of statements whatever the lot count:
    one aggregate, one bulk insert of entries (one per account), one INSERT ... SELECT of the
    allocations, one UPDATE of the lots, one bulk update of the accounts."""
    accounts = {a.pk: a for a in lock_accounts(account_ids)}
    # re-read under the locks: a run that got here first has already emptied these lots
    due = PointsLot.objects.filter(
        account_id__in=account_ids, remaining__gt=0, expires_at__lte=as_of
    )
    per_account = {
        row["account_id"]: int(row["points"])
        for row in due.order_by().values("account_id").annotate(points=Sum("remaining"))
    }
    if not per_account:
        return 0
    key_suffix = as_of.isoformat()
    entries = []
    for account_id, points in sorted(per_account.items()):
        account = accounts[account_id]
        account.balance -= points
        entries.append(
            LedgerEntry(
                account=account,
                kind=LedgerEntry.Kind.EXPIRE,
                amount=-points,
                balance_after=account.balance,
                source_type="expiry",
                idempotency_key=f"expire:{account_id}:{key_suffix}",
                effective_at=as_of,
                reason="points expired",
            )
        )
    LedgerEntry.objects.bulk_create(entries)
    entry_ids = [e.pk for e in entries]
    if None in entry_ids:  # a backend that does not return ids from a bulk insert
        entry_ids = list(
            LedgerEntry.objects.filter(
                idempotency_key__in=[e.idempotency_key for e in entries],
                account_id__in=list(per_account),
            ).values_list("pk", flat=True)
        )
    _allocate_due_lots(due, entry_ids)
    due.update(remaining=0)
    now = timezone.now()
    for account_id in per_account:
        accounts[account_id].updated_at = now
    PointsAccount.objects.bulk_update([accounts[a] for a in per_account], ["balance", "updated_at"])
    members = (
        PointsAccount.objects.filter(pk__in=list(per_account))
        .order_by("pk")
        .values_list("pk", "member_id", "member__member_number")
    )
    _publish_expired(
        [
            (member_id, number, per_account[account_id], accounts[account_id].balance)
            for account_id, member_id, number in members
        ],
        as_of,
    )
    return sum(per_account.values())


def _allocate_due_lots(due: Any, entry_ids: list[int]) -> None:
    """One allocation per expiring lot, written by the database (INSERT ... SELECT)."""
    lots_sql, lots_params = due.values("pk").query.get_compiler(using=due.db).as_sql()
    connection = connections[due.db]
    quote = connection.ops.quote_name
    allocation = quote(LotAllocation._meta.db_table)
    lot = quote(PointsLot._meta.db_table)
    entry = quote(LedgerEntry._meta.db_table)
    placeholders = ", ".join(["%s"] * len(entry_ids))
    sql = (
        f"INSERT INTO {allocation} (entry_id, lot_id, points) "
        f"SELECT e.id, l.id, l.remaining FROM {lot} l "
        f"JOIN {entry} e ON e.account_id = l.account_id "
        f"WHERE e.id IN ({placeholders}) AND l.id IN ({lots_sql})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*entry_ids, *lots_params])


# One INSERT ... SELECT: the dedupe key's unique index makes a rerun (or a concurrent run) a
# no-op per member, as get_or_create does on the ORM path. The key's date is the UTC date of the
# latest release, as Django's aware datetimes give it on the ORM path.
RELEASE_SQL = """
INSERT INTO ledger_notificationoutbox (
    created_at, updated_at, member_id, kind, payload, dedupe_key, status
)
SELECT %(now)s, %(now)s, a.member_id, 'points_available',
    jsonb_build_object('points', SUM(l.remaining)::bigint),
    'available:' || a.member_id || ':'
        || to_char(MAX(l.available_from) AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
    'pending'
FROM ledger_pointslot l
JOIN ledger_ledgerentry e ON e.id = l.entry_id
JOIN ledger_pointsaccount a ON a.id = l.account_id
WHERE l.available_from > %(since)s AND l.available_from <= %(as_of)s AND l.remaining > 0
    AND l.available_from <> e.effective_at
GROUP BY a.member_id
ORDER BY a.member_id
ON CONFLICT (dedupe_key) DO NOTHING
"""


def points_release_pending(
    *, as_of: datetime | None = None, since: datetime | None = None, set_based: bool | None = None
) -> int:
    """Points become spendable by time (each lot's available_from), so no balance changes here:
    this tells members, through the outbox, that pending points are now available (once per
    member and day of release). Returns the messages written.

    On PostgreSQL one INSERT ... SELECT ... ON CONFLICT DO NOTHING (RELEASE_SQL); elsewhere, or
    with `set_based=False`, get_or_create per member. Both write the same rows."""
    as_of = as_of or timezone.now()
    since = since or as_of - timedelta(days=2)
    if set_based is None:
        set_based = connection.vendor == "postgresql"
    if set_based:
        with connection.cursor() as cursor:
            cursor.execute(RELEASE_SQL, {"now": timezone.now(), "since": since, "as_of": as_of})
            released: int = cursor.rowcount
            return released
    lots = (
        PointsLot.objects.filter(
            available_from__gt=since, available_from__lte=as_of, remaining__gt=0
        )
        .exclude(available_from=F("entry__effective_at"))  # only lots that were pending
        .values("account__member_id")
        .annotate(points=Sum("remaining"), last=Max("available_from"))
        .order_by("account__member_id")
    )
    created = 0
    for row in lots.iterator(chunk_size=2000):
        key = f"available:{row['account__member_id']}:{row['last'].date().isoformat()}"
        _, made = NotificationOutbox.objects.get_or_create(
            dedupe_key=key,
            defaults={
                "member_id": row["account__member_id"],
                "kind": "points_available",
                "payload": {"points": row["points"]},
            },
        )
        created += made
    return created


def points_expiry_warn(*, as_of: datetime | None = None, days: int | None = None) -> int:
    """Warn members whose points expire within `days` (the programme's setting by default)."""
    from loyalty.ledger.policy import programme_settings_get

    as_of = as_of or timezone.now()
    days = programme_settings_get().expiry_warning_days if days is None else days
    rows = (
        PointsLot.objects.filter(
            remaining__gt=0, expires_at__gt=as_of, expires_at__lte=as_of + timedelta(days=days)
        )
        .values("account__member_id")
        .annotate(points=Sum("remaining"), first=Max("expires_at"))
    )
    created = 0
    for row in rows.iterator(chunk_size=2000):
        key = f"expiring:{row['account__member_id']}:{row['first'].date().isoformat()}"
        _, made = NotificationOutbox.objects.get_or_create(
            dedupe_key=key,
            defaults={
                "member_id": row["account__member_id"],
                "kind": "points_expiring",
                "payload": {"points": row["points"], "expires_by": row["first"].isoformat()},
            },
        )
        created += made
    return created


@dataclass
class Mismatch:
    account_id: int
    member_id: int
    cached_balance: int
    entries_sum: int
    lots_minus_debt: int
    last_balance_after: int | None


# Per range of account ids, the database compares and returns only the accounts that disagree
# (plain SQL: PostgreSQL and SQLite). The sums are restricted to the range before they are
# joined, so each range reads its own entries and lots once, through the account_id indexes.
RECONCILE_SQL = """
SELECT a.id, a.member_id, a.balance, COALESCE(e.total, 0), COALESCE(l.total, 0) - a.debt,
    (SELECT balance_after FROM ledger_ledgerentry WHERE id = e.last_id)
FROM ledger_pointsaccount a
LEFT JOIN (
    SELECT account_id, SUM(amount) AS total, MAX(id) AS last_id FROM ledger_ledgerentry
    WHERE account_id > %(lo)s AND account_id <= %(hi)s GROUP BY account_id
) e ON e.account_id = a.id
LEFT JOIN (
    SELECT account_id, SUM(remaining) AS total FROM ledger_pointslot
    WHERE account_id > %(lo)s AND account_id <= %(hi)s GROUP BY account_id
) l ON l.account_id = a.id
WHERE a.id > %(lo)s AND a.id <= %(hi)s AND NOT (
    a.balance = COALESCE(e.total, 0)
    AND a.balance = COALESCE(l.total, 0) - a.debt
    -- the latest entry by primary key lookup: a join was planned as a scan of every entry
    AND (e.last_id IS NULL OR a.balance = (
        SELECT balance_after FROM ledger_ledgerentry WHERE id = e.last_id
    ))
)
ORDER BY a.id
"""


def ledger_reconcile(*, progress: Any = None, chunk: int = 50_000) -> list[Mismatch]:
    """Prove, for every account, cached balance = SUM(entries) = SUM(lots.remaining) - debt =
    the latest entry's balance_after. Reports mismatches; never fixes them.

    Works through the accounts in pk ranges of `chunk` accounts, one statement per range that
    returns only the mismatches, so memory stays flat with millions of accounts."""
    mismatches: list[Mismatch] = []
    last = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT MAX(id), COUNT(*) FROM (SELECT id FROM ledger_pointsaccount "
                "WHERE id > %s ORDER BY id LIMIT %s) AS span",
                [last, chunk],
            )
            hi, count = cursor.fetchone()
            if not count:
                return mismatches
            cursor.execute(RECONCILE_SQL, {"lo": last, "hi": hi})
            for row in cursor.fetchall():
                account_id, member_id, balance, entries_sum, lots_minus_debt, last_after = row
                mismatches.append(
                    Mismatch(
                        account_id,
                        member_id,
                        int(balance),
                        int(entries_sum),
                        int(lots_minus_debt),
                        None if last_after is None else int(last_after),
                    )
                )
            last = hi
            if progress is not None:
                progress.update(count)
