"""The set-based (PostgreSQL) expiry and release paths write exactly what the ORM paths write.

Each test generates one history (the benchmark generator: expired-but-open lots, partly spent
lots, pending lots, returns, redemptions) plus hand-made edge cases, runs the ORM path inside a
savepoint that is then rolled back, runs the set-based path on the same rows, and compares every
entry, allocation, lot, account, outbox row and published event. Entry ids come from a sequence
(not rolled back), so entries are compared by their natural key (account, idempotency key).
"""

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from loyalty.bench.benchdata import Generator
from loyalty.core import events
from loyalty.ledger.models import (
    LedgerEntry,
    LotAllocation,
    NotificationOutbox,
    PointsAccount,
    PointsLot,
)
from loyalty.ledger.services import (
    ledger_reconcile,
    points_earn,
    points_expire_due,
    points_redeem,
    points_release_pending,
)
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def history(db) -> Any:
    """A generated history with a 14-day pending window, plus one hand-made account."""
    ProgrammeSettingsFactory(pending_days=14)
    Generator(members=300, transactions=3000, seed=11).run()
    now = timezone.now()
    edge = MemberFactory()
    # an expired lot next to a fresh one that was partly spent: only the old one expires
    old = now - timedelta(days=400)
    points_earn(member=edge, points=9, idempotency_key="edge-a", occurred_at=old)
    points_earn(member=edge, points=5, idempotency_key="edge-b", occurred_at=now - timedelta(30))
    points_redeem(member=edge, points=3, source_type="t", source_id="e", idempotency_key="e-r")
    return now


@pytest.fixture
def published() -> Any:
    seen: list[tuple[str, dict]] = []

    def record(event_type: str, payload: dict) -> None:
        seen.append((event_type, payload))

    events.subscribe(record)
    yield seen
    events._subscribers.remove(record)


def snapshot() -> dict[str, Any]:
    return {
        "entries": {
            (row[0], row[1]): row[2:]
            for row in LedgerEntry.objects.values_list(
                "account_id",
                "idempotency_key",
                "kind",
                "amount",
                "balance_after",
                "source_type",
                "source_id",
                "reason",
                "rules",
                "metadata",
                "effective_at",
                "created_by_id",
                "reverses_id",
            )
        },
        # the order the expire entries were written in (by account)
        "expire_order": list(
            LedgerEntry.objects.filter(kind="expire")
            .order_by("id")
            .values_list("account_id", "idempotency_key")
        ),
        "allocations": Counter(
            LotAllocation.objects.values_list(
                "entry__account_id", "entry__idempotency_key", "lot_id", "points"
            )
        ),
        "lots": list(
            PointsLot.objects.order_by("id").values_list(
                "id",
                "account_id",
                "entry_id",
                "amount",
                "remaining",
                "available_from",
                "expires_at",
            )
        ),
        "accounts": list(
            PointsAccount.objects.order_by("id").values_list(
                "id", "member_id", "balance", "debt", "lifetime_earned"
            )
        ),
        "outbox": sorted(
            NotificationOutbox.objects.values_list(
                "member_id", "kind", "payload", "dedupe_key", "status", "sent_at"
            ),
            key=lambda row: row[3],
        ),
    }


def run_both(job: Any, capture: Any, published: list) -> tuple[Any, dict, list, Any, dict, list]:
    """job(set_based) on the ORM path (rolled back), then on the set-based path (kept)."""
    with transaction.atomic():
        with capture(execute=True):
            orm_result = job(False)
        orm_rows, orm_events = snapshot(), list(published)
        transaction.set_rollback(True)
    published.clear()
    with capture(execute=True):
        sql_result = job(True)
    return orm_result, orm_rows, orm_events, sql_result, snapshot(), list(published)


def test_set_based_expiry_writes_exactly_what_the_orm_path_writes(
    history, published, django_capture_on_commit_callbacks
):
    # as_of is exactly the expiry of the latest due lot: the boundary (expires_at <= as_of)
    as_of = (
        PointsLot.objects.filter(remaining__gt=0, expires_at__lte=history)
        .order_by("-expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )
    before = snapshot()
    due = PointsLot.objects.filter(remaining__gt=0, expires_at__lte=as_of)
    due_accounts = due.values("account_id").distinct().count()
    due_points = sum(due.values_list("remaining", flat=True))

    orm, orm_rows, orm_events, sql, sql_rows, sql_events = run_both(
        lambda set_based: points_expire_due(as_of=as_of, batch=30, set_based=set_based),
        django_capture_on_commit_callbacks,
        published,
    )

    assert due_accounts > 50 and due_points > 0  # the history has real work in it
    assert orm == sql == due_points
    assert sql_rows == orm_rows
    assert sql_events == orm_events and len(sql_events) == due_accounts
    assert len(sql_rows["expire_order"]) == due_accounts
    assert sql_rows != before
    assert ledger_reconcile() == []
    # a rerun, on either path, finds nothing left to do
    assert points_expire_due(as_of=as_of, set_based=True) == 0
    assert points_expire_due(as_of=as_of, set_based=False) == 0
    assert snapshot() == sql_rows


def test_set_based_release_writes_exactly_what_the_orm_path_writes(
    history, published, django_capture_on_commit_callbacks
):
    now = history
    # yesterday's run already told some members: today's run must not tell them twice
    first = points_release_pending(as_of=now + timedelta(days=13), set_based=False)

    orm, orm_rows, _, sql, sql_rows, _ = run_both(
        lambda set_based: points_release_pending(
            as_of=now + timedelta(days=14, hours=1), set_based=set_based
        ),
        django_capture_on_commit_callbacks,
        published,
    )

    assert first > 0 and sql > 0
    assert orm == sql
    assert sql_rows == orm_rows
    assert len(sql_rows["outbox"]) == first + sql
    assert points_release_pending(as_of=now + timedelta(days=14, hours=2)) == 0


def test_a_crashed_set_based_expiry_rerun_expires_each_lot_once(history):
    as_of = history
    due = list(
        PointsLot.objects.filter(remaining__gt=0, expires_at__lte=as_of).values_list(
            "id", "account_id", "remaining"
        )
    )
    accounts = sorted({account for _, account, _ in due})
    victim = accounts[len(accounts) // 2]  # in a batch after some committed ones
    with connection.cursor() as cursor:  # the "crash": the victim's batch fails mid-statement
        cursor.execute(
            "CREATE FUNCTION test_expiry_crash() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.kind = 'expire' AND NEW.account_id = {victim} THEN "
            "RAISE EXCEPTION 'crash in the middle of the expiry'; END IF; RETURN NEW; END $$ "
            "LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER test_expiry_crash BEFORE INSERT ON ledger_ledgerentry "
            "FOR EACH ROW EXECUTE FUNCTION test_expiry_crash()"
        )
    with pytest.raises(DatabaseError, match="crash in the middle"):
        points_expire_due(as_of=as_of, batch=40, set_based=True)
    partly = LedgerEntry.objects.filter(kind="expire").count()
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_expiry_crash ON ledger_ledgerentry")

    rest = points_expire_due(as_of=as_of, batch=40, set_based=True)

    expired = -sum(LedgerEntry.objects.filter(kind="expire").values_list("amount", flat=True))
    assert 0 < partly < len(accounts)  # the crash came after some batches had committed
    assert expired == sum(points for _, _, points in due) and rest < expired
    assert LedgerEntry.objects.filter(kind="expire").count() == len(accounts)
    allocated = Counter(
        LotAllocation.objects.filter(entry__kind="expire").values_list("lot_id", "points")
    )
    assert allocated == Counter((lot, points) for lot, _, points in due)  # each lot once, in full
    assert not PointsLot.objects.filter(remaining__gt=0, expires_at__lte=as_of).exists()
    assert ledger_reconcile() == []


@pytest.mark.django_db(transaction=True)
def test_expiry_on_two_connections_writes_what_the_orm_path_writes(history, published):
    """The default on PostgreSQL outside a transaction: batches on LEDGER_EXPIRY_WORKERS
    connections at once. Same rows and events as the ORM path; only the order in which the
    batches' entries got their ids may differ (each batch is still written in account order)."""
    as_of = history
    due = PointsLot.objects.filter(remaining__gt=0, expires_at__lte=as_of)
    due_accounts = due.values("account_id").distinct().count()
    due_points = sum(due.values_list("remaining", flat=True))
    with transaction.atomic():
        orm = points_expire_due(as_of=as_of, batch=25, set_based=False)
        orm_rows, orm_events = snapshot(), list(published)
        transaction.set_rollback(True)
    published.clear()
    assert not connection.in_atomic_block  # so the workers' path is the one taken

    sql = points_expire_due(as_of=as_of, batch=25, workers=2)  # set_based: the default here

    sql_rows, sql_events = snapshot(), list(published)
    assert due_accounts > 50 and orm == sql == due_points
    assert sorted(sql_rows.pop("expire_order")) == sorted(orm_rows.pop("expire_order"))
    assert sql_rows == orm_rows
    key = lambda payload: payload[1]["member_id"]  # noqa: E731
    assert sorted(sql_events, key=key) == sorted(orm_events, key=key)
    assert len(sql_events) == due_accounts
    assert ledger_reconcile() == []
    assert points_expire_due(as_of=as_of, workers=2) == 0


@pytest.mark.django_db(transaction=True)
def test_a_failed_batch_on_two_connections_is_raised_and_the_rerun_completes(history):
    as_of = history
    lots = PointsLot.objects.filter(remaining__gt=0, expires_at__lte=as_of)
    due = list(lots.values_list("id", "remaining"))
    accounts = sorted(set(lots.values_list("account_id", flat=True)))
    victim = accounts[len(accounts) // 2]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_expiry_crash2() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.kind = 'expire' AND NEW.account_id = {victim} THEN "
            "RAISE EXCEPTION 'crash on a worker'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER test_expiry_crash2 BEFORE INSERT ON ledger_ledgerentry "
            "FOR EACH ROW EXECUTE FUNCTION test_expiry_crash2()"
        )
    try:
        with pytest.raises(DatabaseError, match="crash on a worker"):
            points_expire_due(as_of=as_of, batch=25, workers=2)
        assert not LedgerEntry.objects.filter(kind="expire", account_id=victim).exists()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_expiry_crash2 ON ledger_ledgerentry")
            cursor.execute("DROP FUNCTION test_expiry_crash2()")

    points_expire_due(as_of=as_of, batch=25, workers=2)

    assert LedgerEntry.objects.filter(kind="expire").count() == len(accounts)
    allocated = Counter(
        LotAllocation.objects.filter(entry__kind="expire").values_list("lot_id", "points")
    )
    assert allocated == Counter(due)  # each due lot once, in full
    assert ledger_reconcile() == []
