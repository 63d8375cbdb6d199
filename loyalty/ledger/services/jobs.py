"""Nightly and hourly jobs: expiry, pending release notices, expiry warnings, reconciliation.

Each works in batches of accounts: lock the batch (pk order), then a handful of set-based
statements per batch; expiry never loads or loops over lots in Python. All are idempotent and safe to run
twice at once (the second run waits on the account locks, then finds nothing left to do).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, transaction
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


def _account_batches(lots_filter: dict[str, Any], batch: int = BATCH) -> Any:
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


def points_expire_due(*, as_of: datetime | None = None, batch: int = BATCH) -> int:
    """Expire what is left of every lot whose expiry has passed; returns points expired.

    One EXPIRE entry per account and run (idempotency key expire:<account>:<as_of>), with an
    allocation per lot, so spent points are never expired and a lot's remainder only once.
    """
    as_of = as_of or timezone.now()
    total = 0
    for ids in _account_batches({"remaining__gt": 0, "expires_at__lte": as_of}, batch):
        total += _expire_batch(ids, as_of)
    return total


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
    # one event per member and run (not per lot), sent after this batch commits
    members = PointsAccount.objects.filter(pk__in=list(per_account)).values_list(
        "pk", "member_id", "member__member_number"
    )
    for account_id, member_id, member_number in members:
        events.publish(
            "points.expired",
            {
                "member_id": member_id,
                "member_number": member_number,
                "points": per_account[account_id],
                "balance": accounts[account_id].balance,
                "occurred_at": as_of.isoformat(),
            },
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


def points_release_pending(*, as_of: datetime | None = None, since: datetime | None = None) -> int:
    """Points become spendable by time (each lot's available_from), so no balance changes here:
    this tells members, through the outbox, that pending points are now available (once per lot)."""
    as_of = as_of or timezone.now()
    since = since or as_of - timedelta(days=2)
    lots = (
        PointsLot.objects.filter(
            available_from__gt=since, available_from__lte=as_of, remaining__gt=0
        )
        .exclude(available_from=F("entry__effective_at"))  # only lots that were pending
        .values("account__member_id")
        .annotate(points=Sum("remaining"), last=Max("available_from"))
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


def ledger_reconcile(*, progress: Any = None, chunk: int = 5000) -> list[Mismatch]:
    """Prove, for every account, cached balance = SUM(entries) = SUM(lots.remaining) - debt =
    the latest entry's balance_after. Reports mismatches; never fixes them.

    Works through the accounts in pk ranges of `chunk`, three grouped aggregates per range, so
    memory stays flat with millions of accounts."""
    mismatches = []
    last = 0
    while True:
        accounts = list(
            PointsAccount.objects.filter(pk__gt=last)
            .order_by("pk")
            .only("id", "member_id", "balance", "debt")[:chunk]
        )
        if not accounts:
            return mismatches
        span = {"account_id__gte": accounts[0].pk, "account_id__lte": accounts[-1].pk}
        last = accounts[-1].pk
        sums = dict(
            LedgerEntry.objects.filter(**span)
            .order_by()
            .values("account_id")
            .annotate(t=Sum("amount"))
            .values_list("account_id", "t")
        )
        lots = dict(
            PointsLot.objects.filter(**span)
            .order_by()
            .values("account_id")
            .annotate(t=Sum("remaining"))
            .values_list("account_id", "t")
        )
        last_ids = (
            LedgerEntry.objects.filter(**span)
            .order_by()
            .values("account_id")
            .annotate(last=Max("id"))
            .values_list("last", flat=True)
        )
        last_after = dict(
            LedgerEntry.objects.filter(id__in=last_ids)
            .order_by()
            .values_list("account_id", "balance_after")
        )
        for account in accounts:
            entries_sum = int(sums.get(account.pk) or 0)
            lots_minus_debt = int(lots.get(account.pk) or 0) - account.debt
            last_balance = last_after.get(account.pk)
            expected_last = account.balance if last_balance is not None else None
            if (
                not (account.balance == entries_sum == lots_minus_debt)
                or last_balance != expected_last
            ):
                mismatches.append(
                    Mismatch(
                        account.pk,
                        account.member_id,
                        account.balance,
                        entries_sum,
                        lots_minus_debt,
                        last_balance,
                    )
                )
        if progress is not None:
            progress.update(len(accounts))
