"""Workers and the sweep racing for one delivery: the receiver gets it once."""

import pytest
from django.utils import timezone

from loyalty.integrations.models import WebhookDelivery
from loyalty.integrations.services import webhook_delivery_send
from tests.concurrency import run_threads
from tests.factories.integrations import WebhookSubscriptionFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_eight_workers_sending_one_delivery_post_it_once(receiver):
    hook = receiver()
    subscription = WebhookSubscriptionFactory(target_url=hook.url)
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event_type="points.earned",
        payload={"points": 1},
        next_attempt_at=timezone.now(),
    )

    outcomes = run_threads(8, lambda i: webhook_delivery_send(delivery_id=delivery.pk))

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert sum(1 for _, sent in outcomes if sent is not None) == 1
    assert len(hook.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
