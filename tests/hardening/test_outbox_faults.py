"""The transactional outbox under a crash (PostgreSQL + a throwaway Redis + a real worker).

A process that commits a change and is SIGKILLed before anything after the commit runs (its
first on-commit hook kills it) must still have its event delivered: the webhook delivery row is
written in the change's own transaction, and the sweep a worker runs sends it.
"""

import textwrap
import time
from collections.abc import Iterator

import pytest

from loyalty.integrations.models import WebhookDelivery
from members.models import Member
from tests.factories.integrations import WebhookSubscriptionFactory
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.hardening.conftest import FIGURES
from tests.hardening.test_worker_faults import (
    REDIS_SERVER,
    ThrowawayRedis,
    _client,
    _spawn,
    celery_worker,
)
from tests.integrations.conftest import Receiver

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server for a throwaway broker"),
]

# The child commits an enrolment and a purchase, each in a transaction whose FIRST on-commit
# callback SIGKILLs the process: nothing registered after it (the old event hook, the enqueue
# of the send) ever runs.
CHILD = textwrap.dedent(
    """
    import os, signal
    from decimal import Decimal
    from django.db import transaction
    from django.utils import timezone
    from loyalty.ledger.services import purchase_record
    from members.models import Member
    from members.services import member_enroll

    with transaction.atomic():
        transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
        member_enroll(first_name="Killed", email="killed@example.com", channel="web")
        purchase_record(
            member=Member.objects.get(pk={member_id}), channel="store",
            external_id="KILLED-1", occurred_at=timezone.now(), amount=Decimal("25.00"),
        )
    print("not reached")
    """
)


@pytest.fixture(autouse=True)
def _no_broker_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in test_worker_faults: this process must not send to a broker named in the
    environment (Celery reads these before any configuration)."""
    for name in ("CELERY_BROKER_URL", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)


@pytest.fixture
def redis_server() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_a_process_killed_right_after_commit_still_gets_its_events_delivered(
    redis_server, tmp_path
):
    ProgrammeSettingsFactory()
    member = MemberFactory()
    receiver = Receiver([])
    receiver.thread.start()
    WebhookSubscriptionFactory(
        target_url=receiver.url, event_types=["member.enrolled", "points.earned"]
    )
    log = tmp_path / "child.log"
    try:
        child = _spawn(
            ["manage.py", "shell", "-c", CHILD.format(member_id=member.pk)], redis_server.url, log
        )
        assert child.wait(timeout=120) == -9, log.read_text()[-3000:]  # SIGKILL, after commit
        assert "not reached" not in log.read_text()
        # the changes committed, and their events with them
        assert Member.objects.filter(email="killed@example.com").exists()
        pending = WebhookDelivery.objects.order_by("event_type")
        assert [(d.event_type, d.status, d.attempts) for d in pending] == [
            ("member.enrolled", "pending", 0),
            ("points.earned", "pending", 0),
        ]
        assert receiver.requests == []
        FIGURES["faults injected (process killed right after commit)"] += 1

        # a worker comes up; beat's minute sweep (sent here by hand) delivers each event once
        with celery_worker(redis_server.url, tmp_path / "worker.log"):
            client = _client(redis_server.url)
            for _ in range(2):  # the second sweep finds nothing left to send
                client.send_task("loyalty.integrations.tasks.webhook_deliveries_sweep_task").get(
                    timeout=60
                )
                _wait_for(lambda: not WebhookDelivery.objects.filter(status="pending").exists())
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()

    assert sorted(r["headers"]["X-Loyalty-Event"] for r in receiver.requests) == [
        "member.enrolled",
        "points.earned",
    ]
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["delivered"] * 2
    FIGURES["events delivered after a kill right after commit"] += 2
