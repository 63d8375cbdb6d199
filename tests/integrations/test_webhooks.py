"""Webhooks against a real HTTP receiver on 127.0.0.1: signature, retries with backoff, the
sweep, delivery only after commit, and the events the services publish."""

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from loyalty.integrations import tasks
from loyalty.integrations.models import WebhookDelivery
from loyalty.integrations.services import (
    WEBHOOK_BACKOFF,
    WEBHOOK_MAX_ATTEMPTS,
    webhook_deliveries_sweep,
    webhook_delivery_redeliver,
    webhook_event_record,
)
from loyalty.ledger.services import points_earn, points_expire_due, purchase_record
from members.services import member_enroll, member_update
from tests.factories.integrations import WebhookSubscriptionFactory
from tests.integrations.conftest import key_client

pytestmark = pytest.mark.django_db
DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def documented_recipe() -> dict:
    """The verification snippet exactly as docs/api.md shows it to receivers."""
    text = DOCS.read_text()
    match = re.search(r"<!-- verify-recipe -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/api.md lost its verify recipe"
    namespace: dict = {}
    exec(match.group(1), namespace)  # our own documentation's snippet
    return namespace


def buy(client, member, external_id="TILL-1", amount="25.00"):
    body = {"member_id": member.pk, "channel": "store", "external_id": external_id}
    return client.post(reverse("ledger:purchase-create"), {**body, "amount": amount})


def make_due(delivery_id):
    """Let the backoff pass: the retry becomes due now."""
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_signature_verifiable_with_the_documented_recipe(
    programme, member, receiver, django_capture_on_commit_callbacks
):
    hook = receiver()
    subscription = WebhookSubscriptionFactory(target_url=hook.url, event_types=["points.earned"])
    client = key_client(subscription.client)

    with django_capture_on_commit_callbacks(execute=True):
        assert buy(client, member).status_code == 201

    [got] = hook.requests
    headers, body = got["headers"], got["body"]
    verify = documented_recipe()["verify"]
    assert verify(subscription.raw_secret, headers, body) is True
    assert verify("whsec_wrong", headers, body) is False
    assert verify(subscription.raw_secret, headers, body.replace(b"25", b"99")) is False
    event = json.loads(body)
    delivery = WebhookDelivery.objects.get()
    assert headers["X-Loyalty-Event"] == "points.earned"
    assert headers["X-Loyalty-Delivery"] == str(delivery.pk)
    assert event["id"] == str(delivery.event_id) and event["type"] == "points.earned"
    assert event["data"]["member_number"] == member.member_number
    assert (event["data"]["points"], event["data"]["balance"]) == (25, 25)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_a_receiver_that_fails_twice_then_succeeds_gets_the_event_once(
    programme, member, receiver, django_capture_on_commit_callbacks
):
    hook = receiver([500, 503])
    subscription = WebhookSubscriptionFactory(target_url=hook.url)

    with django_capture_on_commit_callbacks(execute=True):
        buy(key_client(subscription.client), member)
    delivery = WebhookDelivery.objects.get()
    first_retry_at = delivery.next_attempt_at
    not_yet = webhook_deliveries_sweep()  # the backoff has not passed: nothing is sent
    make_due(delivery.pk)
    webhook_deliveries_sweep()
    delivery.refresh_from_db()
    second_wait = delivery.next_attempt_at - delivery.updated_at
    make_due(delivery.pk)
    webhook_deliveries_sweep()
    delivery.refresh_from_db()
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    make_due(delivery.pk)  # even if it looked due, a delivered row is never sent again
    again = webhook_deliveries_sweep()

    delivery.refresh_from_db()
    assert [r["answered"] for r in hook.requests] == [500, 503, 200]
    assert len(hook.delivered) == 1
    assert len({r["body"] for r in hook.requests}) == 1  # the same event each time
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.DELIVERED, 3)
    assert not_yet == 0 and again == 0
    assert first_retry_at - delivery.created_at >= timedelta(seconds=WEBHOOK_BACKOFF[0] - 1)
    assert second_wait >= timedelta(seconds=WEBHOOK_BACKOFF[1] - 1)


def test_a_receiver_that_never_answers_2xx_ends_failed(
    programme, member, receiver, django_capture_on_commit_callbacks
):
    hook = receiver([500] * 20)
    subscription = WebhookSubscriptionFactory(target_url=hook.url)

    with django_capture_on_commit_callbacks(execute=True):
        buy(key_client(subscription.client), member)
    delivery = WebhookDelivery.objects.get()
    for _ in range(WEBHOOK_MAX_ATTEMPTS + 2):
        make_due(delivery.pk)
        webhook_deliveries_sweep()

    delivery.refresh_from_db()
    assert len(hook.requests) == WEBHOOK_MAX_ATTEMPTS
    assert (delivery.status, delivery.attempts) == ("failed", WEBHOOK_MAX_ATTEMPTS)
    assert delivery.last_status_code == 500 and "HTTP 500" in delivery.last_error


def test_an_unreachable_receiver_is_retried(
    programme, member, receiver, django_capture_on_commit_callbacks
):
    hook = receiver()
    port = int(hook.url.split(":")[2].split("/")[0])
    hook.server.shutdown()
    hook.server.server_close()  # nothing listens there any more: connection refused
    subscription = WebhookSubscriptionFactory(target_url=f"http://127.0.0.1:{port}/gone")

    with django_capture_on_commit_callbacks(execute=True):
        buy(key_client(subscription.client), member)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_status_code is None and "ConnectionError" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()


def test_the_sweep_sends_what_the_broker_never_got(
    programme, member, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    hook = receiver()
    subscription = WebhookSubscriptionFactory(target_url=hook.url)

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks.webhook_delivery_send_task, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        assert buy(key_client(subscription.client), member).status_code == 201
    pending = WebhookDelivery.objects.get()
    assert (pending.status, pending.attempts, hook.requests) == ("pending", 0, [])
    assert webhook_deliveries_sweep() == 0  # still down: stops, keeps the row
    monkeypatch.undo()

    assert webhook_deliveries_sweep() == 1
    pending.refresh_from_db()
    assert pending.status == "delivered" and len(hook.requests) == 1


def test_deliveries_are_written_with_the_change_and_sent_only_after_commit(
    programme, member, monkeypatch, django_capture_on_commit_callbacks
):
    # the transactional outbox: the row is part of the purchase's own transaction, so a process
    # killed between the commit and any hook has already stored the event; only the send waits
    WebhookSubscriptionFactory(target_url="http://127.0.0.1:9/never-called")
    queued: list[int] = []
    monkeypatch.setattr(tasks.webhook_delivery_send_task, "delay", lambda pk: queued.append(pk))

    with django_capture_on_commit_callbacks(execute=False) as committed, transaction.atomic():
        purchase_record(
            member=member,
            channel="store",
            external_id="OK-1",
            occurred_at=timezone.now(),
            amount=Decimal("10.00"),
        )
        # inside the purchase's transaction, before it commits: already written
        delivery = WebhookDelivery.objects.get()
    assert delivery.payload["external_id"] == "OK-1" and delivery.status == "pending"
    assert queued == []  # nothing sent before the commit
    with (
        django_capture_on_commit_callbacks(execute=False) as rolled_back,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        purchase_record(
            member=member,
            channel="store",
            external_id="ROLLED-BACK",
            occurred_at=timezone.now(),
            amount=Decimal("10.00"),
        )
        assert WebhookDelivery.objects.count() == 2
        raise RuntimeError("the till crashed")

    assert rolled_back == []
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [delivery.pk]
    for callback in committed:
        callback()
    assert queued == [delivery.pk]


def test_an_outbox_write_that_fails_rolls_the_change_back(programme, member, monkeypatch):
    # no change is committed without its event
    from loyalty.integrations import services
    from loyalty.ledger.models import Transaction

    WebhookSubscriptionFactory(target_url="http://127.0.0.1:9/never-called")

    def broken(*args, **kwargs):
        raise RuntimeError("outbox insert failed")

    monkeypatch.setattr(services.WebhookDelivery.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        purchase_record(
            member=member,
            channel="store",
            external_id="NO-EVENT",
            occurred_at=timezone.now(),
            amount=Decimal("10.00"),
        )
    assert not Transaction.objects.filter(external_id="NO-EVENT").exists()


def test_many_events_are_one_insert_and_one_sweep_task(
    programme, monkeypatch, django_capture_on_commit_callbacks
):
    from loyalty.core import events

    sub_a = WebhookSubscriptionFactory(target_url="http://127.0.0.1:9/a")
    sub_b = WebhookSubscriptionFactory(target_url="http://127.0.0.1:9/b")
    sweeps: list[int] = []
    sends: list[int] = []
    monkeypatch.setattr(
        tasks.webhook_deliveries_sweep_task, "delay", lambda limit: sweeps.append(limit)
    )
    monkeypatch.setattr(tasks.webhook_delivery_send_task, "delay", lambda pk: sends.append(pk))
    payloads = [{"member_id": n, "points": 1} for n in range(60)]

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with (
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as queries,
        transaction.atomic(),
    ):
        events.publish_many("points.earned", payloads)
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    # one statement on PostgreSQL; SQLite's bound-variable limit splits it in two: never 120
    assert len(inserts) == (1 if connection.vendor == "postgresql" else 2)
    rows = WebhookDelivery.objects.all()
    assert rows.count() == 120
    assert {r.subscription_id for r in rows} == {sub_a.pk, sub_b.pk}
    assert rows.values("event_id").distinct().count() == 60  # one id per event
    assert sends == [] and sweeps == [120]


def test_only_active_subscriptions_to_the_event_get_a_delivery(programme):
    url = "http://127.0.0.1:9/nobody-listens"
    earned = WebhookSubscriptionFactory(target_url=url, event_types=["points.earned"])
    WebhookSubscriptionFactory(target_url=url, event_types=["member.enrolled"])
    WebhookSubscriptionFactory(target_url=url, event_types=["points.earned"], active=False)

    ids = webhook_event_record("points.earned", {"member_id": 1})

    assert [d.subscription_id for d in WebhookDelivery.objects.filter(pk__in=ids)] == [earned.pk]


def test_member_and_points_events_carry_small_stable_payloads(
    programme, member, django_capture_on_commit_callbacks
):
    WebhookSubscriptionFactory(
        target_url="http://127.0.0.1:9/x",
        event_types=["member.enrolled", "member.updated", "points.earned", "points.expired"],
    )

    with django_capture_on_commit_callbacks(execute=True):
        enrolled = member_enroll(first_name="Ada", email="ada@example.com", channel="web")
    with django_capture_on_commit_callbacks(execute=True):
        member_update(member=enrolled, data={"city": "Leeds"})
    with django_capture_on_commit_callbacks(execute=True):
        points_earn(member=enrolled, points=30, idempotency_key="bonus-1", source_type="campaign")
    with django_capture_on_commit_callbacks(execute=True):
        points_earn(member=enrolled, points=30, idempotency_key="bonus-1", source_type="campaign")
    with django_capture_on_commit_callbacks(execute=True):
        points_expire_due(as_of=timezone.now() + timedelta(days=3650))

    payloads = {d.event_type: d.payload for d in WebhookDelivery.objects.order_by("pk")}
    counts = [d.event_type for d in WebhookDelivery.objects.order_by("pk")]
    assert counts == ["member.enrolled", "member.updated", "points.earned", "points.expired"]
    assert payloads["member.enrolled"]["member_number"] == enrolled.member_number
    assert "email" not in json.dumps(payloads)  # ids only, no personal data
    assert payloads["member.updated"]["fields"] == ["city"]
    assert (payloads["points.earned"]["points"], payloads["points.earned"]["balance"]) == (30, 30)
    assert (payloads["points.expired"]["points"], payloads["points.expired"]["balance"]) == (30, 0)


def test_redeliver_sends_a_delivered_event_again(
    programme, member, receiver, django_capture_on_commit_callbacks
):
    hook = receiver()
    subscription = WebhookSubscriptionFactory(target_url=hook.url)
    with django_capture_on_commit_callbacks(execute=True):
        buy(key_client(subscription.client), member)
    delivery = WebhookDelivery.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        webhook_delivery_redeliver(delivery=delivery)

    delivery.refresh_from_db()
    assert len(hook.delivered) == 2
    assert hook.requests[0]["body"] == hook.requests[1]["body"]  # same event id and data
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
