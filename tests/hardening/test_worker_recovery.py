"""A whole worker SIGKILLed mid-task (#17.5): another worker takes the task back once the broker's
visibility timeout has passed and does its work once.

Real parts as in test_worker_faults.py: `celery -A config worker` subprocesses on a throwaway
Redis, this test's PostgreSQL database, a slow trigger that holds the job in its last batch. The
workers here run with a visibility timeout of 10 s (CELERY_VISIBILITY_TIMEOUT, read by
config/settings/celery.py) instead of production's 10 minutes, so the test takes seconds.
"""

import time
from collections.abc import Iterator

import pytest

from loyalty.ledger.models import LedgerEntry
from tests.hardening.conftest import FIGURES
from tests.hardening.test_worker_faults import (
    EXPIRE,
    REDIS_SERVER,
    ThrowawayRedis,
    _assert_each_due_lot_expired_once,
    _backend_asleep_in_trigger,
    _client,
    _history_with_due_lots,
    _kill,
    _wait_backend_gone,
    celery_worker,
    slow_row,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server for a throwaway broker"),
]
VISIBILITY = 10  # seconds, for this test's workers only
# kombu looks for messages to take back about every 10 polls of 1 s; a worker starts in a few
KOMBU_CHECK = 10
# a cold worker start (imports, Django set-up) took over 30 s on a loaded 2-core machine; in
# production the other workers are already running, so this part is the test's, not the promise
WORKER_START = 90


@pytest.fixture(autouse=True)
def _test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not the shared broker of the environment (see test_worker_faults), and the short
    visibility timeout for the worker subprocesses (they inherit this environment)."""
    for name in (
        "CELERY_BROKER_URL",
        "CELERY_BROKER_READ_URL",
        "CELERY_BROKER_WRITE_URL",
        "CELERY_RESULT_BACKEND",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", str(VISIBILITY))


@pytest.fixture
def redis_server() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_worker_killed_mid_task_is_replaced_by_another_within_the_visibility_timeout(
    redis_server, tmp_path
):
    due = _history_with_due_lots(members=600, transactions=1500, seed=4)
    assert due
    last_account = max(account for account, _ in due.values())
    client = _client(redis_server.url)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"

    with slow_row("ledger_ledgerentry", f"NEW.kind = 'expire' AND NEW.account_id = {last_account}"):
        with celery_worker(redis_server.url, first_log) as first:
            result = client.send_task(EXPIRE)
            victim = _backend_asleep_in_trigger(first, first_log, timeout=120)
            _kill(first)  # the whole worker: nobody is left to put the message back
            killed_at = time.monotonic()
        _wait_backend_gone(victim)
        assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EXPIRE).exists()

        # another worker (no restart of the first): it takes the unacknowledged message back
        with celery_worker(redis_server.url, second_log):
            points = result.get(timeout=VISIBILITY + KOMBU_CHECK + WORKER_START)
            recovered_after = time.monotonic() - killed_at

    assert points == sum(r for _, r in due.values())  # the killed run committed nothing
    _assert_each_due_lot_expired_once(due)  # and the work was done once
    # the same message: received by the first worker, taken back and run by the second
    assert f"Task {EXPIRE}[{result.id}] received" in first_log.read_text()
    assert f"Task {EXPIRE}[{result.id}] received" in second_log.read_text()
    FIGURES["faults injected (worker SIGKILLed, task taken over by another)"] += 1
    FIGURES[f"takeover seconds after the kill (visibility timeout {VISIBILITY} s)"] = round(
        recovered_after
    )
