"""Faults injected on PostgreSQL + Redis: a Celery worker killed in the middle of the expiry job,
an import process killed in the middle of a file, and Redis down while the API takes purchases
and redemptions.

Real parts only: a `celery -A config worker` subprocess on a throwaway Redis (its own port, never
the shared 6379) and this test's PostgreSQL database; SIGKILL, not a polite shutdown. "In the
middle" is made deterministic with a slow trigger on one chosen row (it sleeps once, gated by a
sequence, so the rerun passes it): the test waits until PostgreSQL reports the job's statement
asleep in that trigger, then kills the process. The child processes connect with
client_connection_check_interval, so PostgreSQL notices the dead client mid-statement (the
kernel closed its socket) and rolls its transaction back at once.
"""

import csv
import io
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone

from loyalty.integrations.models import WebhookDelivery
from loyalty.ledger.models import LedgerEntry, LotAllocation, PointsLot, Transaction
from loyalty.ledger.services import ledger_reconcile
from members.models import Member
from rewards.models import Redemption, Reward
from tests.factories.integrations import WebhookSubscriptionFactory
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory, RewardsSettingsFactory
from tests.hardening.conftest import FIGURES
from tests.integrations.conftest import Receiver, key_client

REDIS_SERVER = shutil.which("redis-server")
BASE_DIR = Path(settings.BASE_DIR)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server for a throwaway broker"),
]

# Sleeps once (the first row that matches), however many runs pass: nextval is not rolled back.
SLOW_ROW = """
CREATE SEQUENCE test_slow_row_gate;
CREATE FUNCTION test_slow_row() RETURNS trigger AS $$
BEGIN
    IF nextval('test_slow_row_gate') = 1 THEN PERFORM pg_sleep(120); END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER test_slow_row BEFORE INSERT ON {table} FOR EACH ROW WHEN ({condition})
EXECUTE FUNCTION test_slow_row();
"""
DROP_SLOW_ROW = """
DROP TRIGGER IF EXISTS test_slow_row ON {table};
DROP FUNCTION IF EXISTS test_slow_row();
DROP SEQUENCE IF EXISTS test_slow_row_gate;
"""


# ------------------------------------------------------------------------------ helpers


@pytest.fixture(autouse=True)
def _no_broker_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Celery reads these variables before any configuration (celery/app/utils.py): with them
    set, as in .ci/run, this process would send to the shared Redis instead of the test's own.
    The children get the throwaway broker's URL explicitly."""
    for name in (
        "CELERY_BROKER_URL",
        "CELERY_BROKER_READ_URL",
        "CELERY_BROKER_WRITE_URL",
        "CELERY_RESULT_BACKEND",
    ):
        monkeypatch.delenv(name, raising=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayRedis:
    """A redis-server of our own on a free port: no persistence, stopped and started at will."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port)
        for _ in range(200):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("the throwaway redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _child_env(redis_url: str) -> dict[str, str]:
    """A worker or command on this test's database and the throwaway broker."""
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}",
        CELERY_BROKER_URL=redis_url,
        CELERY_RESULT_BACKEND=redis_url,
        CELERY_TASK_ALWAYS_EAGER="false",
        # PostgreSQL checks every 250 ms that the client still exists while a statement runs
        PGOPTIONS="-c client_connection_check_interval=250",
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


def _spawn(args: list[str], redis_url: str, log: Path) -> subprocess.Popen:
    # its own session, so the whole process group can be killed at once
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=BASE_DIR,
            env=_child_env(redis_url),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill(process: subprocess.Popen) -> None:
    """SIGKILL the process and everything it started (a worker's pool children)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@contextmanager
def celery_worker(redis_url: str, log: Path) -> Iterator[subprocess.Popen]:
    worker = _spawn(
        [
            *("-m", "celery", "-A", "config", "worker", "--concurrency=1", "--loglevel=INFO"),
            *("--without-gossip", "--without-mingle", "--hostname=faults@%h"),
        ],
        redis_url,
        log,
    )
    try:
        yield worker
    finally:
        _kill(worker)


def _client(redis_url: str) -> Celery:
    """A bare Celery client for sending tasks by name to the subprocess worker."""
    # not the current app: the services' shared tasks must keep using config.celery's app
    return Celery("faults-client", broker=redis_url, backend=redis_url, set_as_current=False)


@contextmanager
def slow_row(table: str, condition: str) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute(SLOW_ROW.format(table=table, condition=condition))
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(DROP_SLOW_ROW.format(table=table))


def _backend_asleep_in_trigger(process: subprocess.Popen, log: Path, timeout: float) -> int:
    """The pid of the PostgreSQL backend sleeping in the slow trigger (the job is mid-way)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event = 'PgSleep' AND pid <> pg_backend_pid()"
            )
            row = cursor.fetchone()
            if row:
                return row[0]
            if process.poll() is not None:
                break
            time.sleep(0.1)
    raise AssertionError("the job never reached the slow row:\n" + log.read_text()[-3000:])


def _wait_backend_gone(pid: int, timeout: float = 150) -> None:
    """PostgreSQL ends the dead client's backend and rolls its transaction back."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone() is None:
                return
            time.sleep(0.1)
    raise AssertionError(f"backend {pid} outlived its killed client")


# ------------------------------------------------------------------ 1. the expiry job

EXPIRE = "loyalty.ledger.tasks.points_expire_due_task"
BATCH = 400


def _due_lots() -> dict[int, tuple[int, int]]:
    """lot id -> (account id, points left) for every lot whose expiry has passed."""
    return {
        pk: (account_id, remaining)
        for pk, account_id, remaining in PointsLot.objects.filter(
            remaining__gt=0, expires_at__lte=timezone.now()
        ).values_list("pk", "account_id", "remaining")
    }


def _expired_per_lot() -> dict[int, list[int]]:
    rows = LotAllocation.objects.filter(entry__kind=LedgerEntry.Kind.EXPIRE).values_list(
        "lot_id", "points"
    )
    out: dict[int, list[int]] = {}
    for lot_id, points in rows:
        out.setdefault(lot_id, []).append(points)
    return out


def _history_with_due_lots(*, members: int, transactions: int, seed: int) -> dict:
    """Three years of history from the benchmark generator, frozen so that nothing more falls
    due while the test runs; returns the lots due for expiry (_due_lots)."""
    ProgrammeSettingsFactory()
    call_command(
        "generate_benchmark_data",
        *("--members", str(members), "--transactions", str(transactions), "--seed", str(seed)),
        stdout=io.StringIO(),
    )
    _nothing_falls_due_during_the_test()
    return _due_lots()


def test_a_worker_killed_mid_expiry_leaves_whole_batches_and_the_rerun_expires_each_lot_once(
    redis_server, tmp_path
):
    # a history of three years written by the benchmark generator: enough members with lots
    # past their 12 months for three batches of 400 accounts (the task's batch argument; the
    # default batch is larger than a test's data, see the pool-child test below)
    due = _history_with_due_lots(members=3200, transactions=8000, seed=9)
    assert ledger_reconcile() == []
    due_accounts = sorted({account for account, _ in due.values()})
    assert len(due_accounts) > 2 * BATCH, len(due_accounts)
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EXPIRE).exists()
    last_account = due_accounts[-1]  # the last account of the last batch, whatever the size
    log = tmp_path / "worker.log"
    client = _client(redis_server.url)

    with slow_row("ledger_ledgerentry", f"NEW.kind = 'expire' AND NEW.account_id = {last_account}"):
        with celery_worker(redis_server.url, log) as worker:
            client.send_task(EXPIRE, kwargs={"batch": BATCH})
            victim = _backend_asleep_in_trigger(worker, log, timeout=120)
            _kill(worker)  # the worker and its pool child, in the last batch
        _wait_backend_gone(victim)

        # what the killed run left: whole batches, in account order, each fully expired
        expired = _expired_per_lot()
        committed = sorted(
            set(
                LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EXPIRE).values_list(
                    "account_id", flat=True
                )
            )
        )
        # the batches before the last committed, whole, in account order; the last rolled back
        assert committed == due_accounts[: len(committed)]
        assert len(committed) % BATCH == 0 and len(committed) >= 2 * BATCH
        assert last_account not in committed
        for lot_id, (account_id, remaining) in due.items():
            assert expired.get(lot_id, []) == ([remaining] if account_id in committed else [])
        assert ledger_reconcile() == []
        FIGURES["faults injected (worker killed mid-expiry)"] += 1

        # the job runs again on a new worker (the next night's beat): it finishes the rest
        with celery_worker(redis_server.url, log):
            first = client.send_task(EXPIRE, kwargs={"batch": BATCH})
            points = first.get(timeout=300)
            again = client.send_task(EXPIRE)
            assert again.get(timeout=300) == 0  # and a third run finds nothing

    assert points == sum(r for a, r in due.values() if a not in committed)
    _assert_each_due_lot_expired_once(due)
    FIGURES["expiry: due lots checked after the kill and the rerun"] += len(due)
    FIGURES["expiry: accounts committed before the kill"] += len(committed)


def test_a_pool_child_killed_mid_expiry_is_redelivered_by_the_worker_and_expires_once(
    redis_server, tmp_path
):
    # The other way a worker dies: the kernel's OOM killer takes the pool process running the
    # task. acks_late + reject_on_worker_lost (config/settings/celery.py) put the message back,
    # and the same worker runs the job again by itself.
    due = _history_with_due_lots(members=600, transactions=1500, seed=4)
    assert due
    last_account = max(account for account, _ in due.values())
    log = tmp_path / "worker.log"
    client = _client(redis_server.url)

    with (
        slow_row("ledger_ledgerentry", f"NEW.kind = 'expire' AND NEW.account_id = {last_account}"),
        celery_worker(redis_server.url, log) as worker,
    ):
        result = client.send_task(EXPIRE)
        victim = _backend_asleep_in_trigger(worker, log, timeout=120)
        children = _children(worker.pid)
        assert len(children) == 1, children  # --concurrency=1: the one running the job
        os.kill(children[0], signal.SIGKILL)
        points = result.get(timeout=300)  # the redelivered run's result
        assert worker.poll() is None  # the worker itself lived on
    _wait_backend_gone(victim)

    assert "WorkerLostError" in log.read_text()
    assert points == sum(r for _, r in due.values())  # the killed run committed nothing
    _assert_each_due_lot_expired_once(due)
    FIGURES["faults injected (pool process killed mid-expiry, redelivered)"] += 1
    FIGURES["expiry: due lots checked after the kill and the rerun"] += len(due)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _nothing_falls_due_during_the_test() -> None:
    """Lots that would fall due while the test runs are moved on a day: only what is due at the
    start is the job's work, so the figures are exact."""
    now = timezone.now()
    PointsLot.objects.filter(
        expires_at__gt=now - timedelta(minutes=5), expires_at__lte=now + timedelta(days=1)
    ).update(expires_at=now + timedelta(days=2))


def _assert_each_due_lot_expired_once(due: dict[int, tuple[int, int]]) -> None:
    expired = _expired_per_lot()
    assert set(expired) == set(due)  # nothing lost: every due lot expired ...
    for lot_id, (_, remaining) in due.items():
        assert expired[lot_id] == [remaining]  # ... exactly once, by what it had left
    assert not PointsLot.objects.filter(remaining__gt=0, expires_at__lte=timezone.now()).exists()
    per_account = (
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EXPIRE)
        .values("account_id")
        .annotate(n=Count("id"), points=Sum("amount"))
    )
    assert len(per_account) == len({account for account, _ in due.values()})
    assert {row["n"] for row in per_account} == {1}  # one EXPIRE entry per account
    assert ledger_reconcile() == []


# ------------------------------------------------------------------ 2. the bulk import


def _import_file(path: Path, members: list[Any], rows: int) -> dict[str, Any]:
    start = timezone.now() - timedelta(days=30)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["kind", "channel", "external_id", "occurred_at", "amount", "member_number"]
        )
        for n in range(rows):
            member = members[n % len(members)]
            occurred = (start + timedelta(minutes=n)).isoformat()
            writer.writerow(
                [
                    "purchase",
                    "store",
                    f"IMP-{n:04d}",
                    occurred,
                    f"{10 + n % 40}.00",
                    member.member_number,
                ]
            )
    return {f"IMP-{n:04d}": (members[n % len(members)].pk, 10 + n % 40) for n in range(rows)}


def test_an_import_killed_mid_file_is_finished_by_the_rerun_without_importing_twice(
    redis_server, tmp_path
):
    # Imports run in-process (manage.py import_transactions; no Celery task, no admin upload
    # for transactions), so the process killed is the command's. The generic CSV path commits
    # one transaction per row; the row in flight is rolled back.
    ProgrammeSettingsFactory()
    members = [MemberFactory() for _ in range(20)]
    path = tmp_path / "transactions.csv"
    expected = _import_file(path, members, rows=400)
    log = tmp_path / "import.log"
    command = ["manage.py", "import_transactions", str(path), "--skipped", str(tmp_path / "s.csv")]

    with slow_row("ledger_transaction", "NEW.external_id = 'IMP-0250'"):
        process = _spawn(command, redis_server.url, log)
        victim = _backend_asleep_in_trigger(process, log, timeout=180)
        _kill(process)
        _wait_backend_gone(victim)

        imported = set(Transaction.objects.values_list("external_id", flat=True))
        assert imported == {f"IMP-{n:04d}" for n in range(250)}  # the rows before, not 250
        assert ledger_reconcile() == []
        FIGURES["faults injected (import process killed mid-file)"] += 1

        rerun = _spawn(command, redis_server.url, log)
        assert rerun.wait(timeout=600) == 0, log.read_text()[-3000:]
    assert "250 already imported" in log.read_text()

    rows = Transaction.objects.values("external_id", "member_id", "amount", "points_earned")
    assert len(rows) == len(expected)  # nothing lost, nothing twice
    for row in rows:
        member_id, amount = expected[row["external_id"]]
        assert (row["member_id"], int(row["amount"])) == (member_id, amount)
        assert row["points_earned"] == amount  # 1 point per pound
    earned = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EARN)
    assert earned.count() == len(expected)
    assert earned.aggregate(t=Sum("amount"))["t"] == sum(a for _, a in expected.values())
    assert ledger_reconcile() == []
    FIGURES["import: rows checked after the kill and the rerun"] += len(expected)


SAMPLE = BASE_DIR / "tests" / "data" / "online_retail" / "sample.csv"


def test_a_bulk_import_killed_mid_copy_commits_nothing_and_the_rerun_imports_once(
    redis_server, tmp_path
):
    # The Online Retail file goes through the bulk path: one transaction for the whole file
    # (members enrolled, then COPY of transactions, lines, entries, lots). Killed while COPY
    # writes the file's last invoice, nothing of it may be left; the rerun imports it all once.
    ProgrammeSettingsFactory()
    log = tmp_path / "import.log"
    command = ["manage.py", "import_transactions", str(SAMPLE), "--format", "online-retail"]
    command += ["--skipped", str(tmp_path / "skipped.csv")]

    with slow_row("ledger_transaction", "NEW.external_id = '536555'"):
        process = _spawn(command, redis_server.url, log)
        victim = _backend_asleep_in_trigger(process, log, timeout=180)
        _kill(process)
        _wait_backend_gone(victim)

        assert not Transaction.objects.exists()
        assert not Member.objects.exists()  # the enrolments were in the same transaction
        assert not LedgerEntry.objects.exists()
        FIGURES["faults injected (bulk import process killed mid-COPY)"] += 1

        for _ in range(2):  # the rerun, then once more: the second finds it all imported
            rerun = _spawn(command, redis_server.url, log)
            assert rerun.wait(timeout=600) == 0, log.read_text()[-3000:]
    output = log.read_text()
    assert "bulk path" in output
    assert "7 purchases, 1 returns (1 anonymous)" in output
    assert "8 already imported" in output

    assert Transaction.objects.count() == 8
    assert Transaction.objects.values("external_id").distinct().count() == 8
    assert Member.objects.count() == 3
    assert Transaction.objects.get(external_id="536365").points_earned == 139
    credits = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EARN).count()
    assert credits == Transaction.objects.filter(kind="purchase", member__isnull=False).count()
    assert ledger_reconcile() == []
    FIGURES["import: rows checked after the kill and the rerun"] += 8


def test_a_member_import_killed_mid_insert_commits_nothing_and_the_rerun_imports_once(
    redis_server, tmp_path
):
    # manage.py import_members (COPY into a staging table, then set-based INSERT ... SELECT) is
    # one transaction for the whole file: killed while it inserts the members, nothing is left.
    path = tmp_path / "members.csv"
    rows = 500
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first_name", "last_name", "email"])
        for n in range(rows):
            writer.writerow([f"Ada{n}", f"Import{n}", f"ada{n}@import.example"])
    log = tmp_path / "import.log"
    command = ["manage.py", "import_members", str(path)]

    with slow_row("members_member", "NEW.email = 'ada450@import.example'"):
        process = _spawn(command, redis_server.url, log)
        victim = _backend_asleep_in_trigger(process, log, timeout=180)
        _kill(process)
        _wait_backend_gone(victim)
        assert not Member.objects.exists()
        FIGURES["faults injected (member import process killed mid-insert)"] += 1

        for _ in range(2):  # the rerun, then once more: the second changes nothing
            rerun = _spawn(command, redis_server.url, log)
            assert rerun.wait(timeout=600) == 0, log.read_text()[-3000:]
    output = log.read_text()
    assert f"{rows} rows: {rows} new, 0 updated, 0 unchanged, 0 errors" in output
    assert f"{rows} rows: 0 new, 0 updated, {rows} unchanged, 0 errors" in output
    assert Member.objects.count() == rows
    assert Member.objects.values("email").distinct().count() == rows
    assert Member.objects.values("member_number").distinct().count() == rows
    FIGURES["import: rows checked after the kill and the rerun"] += rows


# ------------------------------------------------------------------ 3. Redis down


@pytest.fixture
def app_on(redis_server):
    """Point this process's Celery app (the one the services enqueue with) at the throwaway
    broker, not eager; put everything back afterwards."""
    from config.celery import app

    def reset() -> None:
        # the connection and producer pools were made for the previous broker URL
        app._pool = None
        app.amqp._producer_pool = None
        app._backend_cache = None
        vars(app._local).pop("backend", None)

    saved = (app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager)
    app.conf.broker_url = redis_server.url
    app.conf.result_backend = None  # as configured by default: the API waits for no result
    app.conf.task_always_eager = False
    reset()
    try:
        yield app
    finally:
        reset()
        app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager = saved


def test_redis_down_fails_submission_loudly_keeps_purchases_and_delivers_later_once(
    app_on, redis_server, caplog
):
    from celery.contrib.testing.worker import start_worker

    ProgrammeSettingsFactory()
    rules = RewardsSettingsFactory()
    rules.low_stock_email = "stock@example.com"
    rules.save()
    member = MemberFactory()
    receiver = Receiver([])
    receiver.thread.start()
    subscription = WebhookSubscriptionFactory(
        target_url=receiver.url, event_types=["points.earned", "voucher.issued"]
    )
    client = key_client(subscription.client)
    reward = RewardFactory(points_cost=50, stock=3, low_stock_threshold=2)
    mail.outbox.clear()

    redis_server.stop()  # the broker goes away
    with caplog.at_level(logging.ERROR):
        bought = client.post(
            reverse("ledger:purchase-create"),
            {
                "member_id": member.pk,
                "channel": "store",
                "external_id": "TILL-9",
                "amount": "80.00",
            },
        )
        redeemed = client.post(
            reverse("rewards:redemption-create"),
            {"member_id": member.pk, "reward": reward.code},
            HTTP_IDEMPOTENCY_KEY="till-9-r",
        )

    # the API recorded both (the broker is not part of the transaction) ...
    assert bought.status_code == 201, bought.content
    assert redeemed.status_code == 201, redeemed.content
    assert Transaction.objects.filter(external_id="TILL-9").count() == 1
    assert Redemption.objects.count() == 1
    assert Reward.objects.get(pk=reward.pk).stock == 2
    # ... and every submission that failed said so, as an error with its cause
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    messages = [r.getMessage() for r in errors]
    assert sum("could not enqueue webhook delivery" in m for m in messages) == 2, messages
    assert sum("could not enqueue the low-stock alert" in m for m in messages) == 1, messages
    assert all(r.exc_info for r in errors)
    # the deferred work is kept: two webhook rows pending, the reward still due its alert
    assert list(WebhookDelivery.objects.values_list("status", "attempts")) == [("pending", 0)] * 2
    assert Reward.objects.get(pk=reward.pk).low_stock_alerted_at is None
    assert receiver.requests == [] and mail.outbox == []

    # the sweeps while Redis is still down: they fail loudly and keep everything
    from loyalty.integrations.services import webhook_deliveries_sweep

    assert webhook_deliveries_sweep() == 0
    assert WebhookDelivery.objects.filter(status="pending").count() == 2

    redis_server.start()  # back, same port
    # results through the same Redis, so this test knows when each sweep has run
    app_on.conf.result_backend = redis_server.url
    app_on._backend_cache = None
    vars(app_on._local).pop("backend", None)
    try:
        with start_worker(app_on, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            # what beat runs: the webhook sweep every minute, the low-stock sweep every 10
            for _ in range(2):  # twice: the second finds nothing to send
                app_on.send_task("loyalty.integrations.tasks.webhook_deliveries_sweep_task").get(
                    timeout=60
                )
                app_on.send_task("rewards.tasks.reward_low_stock_alerts_sweep_task").get(timeout=60)
                _wait_for(lambda: WebhookDelivery.objects.filter(status="pending").count() == 0)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()

    assert sorted(r["headers"]["X-Loyalty-Event"] for r in receiver.requests) == [
        "points.earned",
        "voucher.issued",
    ]  # each event delivered once
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["delivered"] * 2
    assert [m.subject for m in mail.outbox] == [f"Low stock: {reward.name} (2 left)"]
    assert Reward.objects.get(pk=reward.pk).low_stock_alerted_at is not None
    assert ledger_reconcile() == []
    FIGURES["faults injected (Redis down during purchase and redemption)"] += 1
    FIGURES["deferred jobs kept and delivered once after the outage"] += 3


def _wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")
