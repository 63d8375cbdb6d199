"""The admin: a key and a signing secret are shown once at creation, keys are revoked by an
action, the request log and the delivery log list with filters, deliveries are redelivered."""

import re

import pytest
from django.urls import reverse

from loyalty.core.periodic import REGISTRY
from loyalty.integrations.models import ApiClient, ApiRequestLog, WebhookDelivery
from loyalty.integrations.services import api_request_log_prune, key_hash
from tests.factories.integrations import ApiClientFactory, WebhookSubscriptionFactory
from tests.factories.members import StoreFactory

pytestmark = pytest.mark.django_db


def test_adding_a_client_shows_its_key_once_and_keeps_only_the_hash(admin_client):
    store = StoreFactory(code="LDN01")

    response = admin_client.post(
        reverse("admin:integrations_apiclient_add"),
        {
            "name": "Web shop",
            "scopes": ["members:read", "transactions:write"],
            "store": store.pk,
            "channel": "web",
            "rate_limit_per_minute": 120,
            "notes": "",
        },
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = re.search(r'id="shown-once"[^>]*>(lk_[^<]+)<', response.content.decode()).group(1)
    client = ApiClient.objects.get()
    assert client.key_hash == key_hash(key) and key.startswith(f"lk_{client.prefix}_")
    assert (client.scopes, client.store, client.channel) == (
        ["members:read", "transactions:write"],
        store,
        "web",
    )
    change_page = admin_client.get(reverse("admin:integrations_apiclient_change", args=[client.pk]))
    listing = admin_client.get(reverse("admin:integrations_apiclient_changelist"))
    assert key not in change_page.content.decode() and key not in listing.content.decode()
    assert client.prefix in listing.content.decode()


def test_unknown_scope_is_a_form_error(admin_client):
    response = admin_client.post(
        reverse("admin:integrations_apiclient_add"),
        {"name": "X", "scopes": ["everything"], "channel": "", "rate_limit_per_minute": 60},
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ApiClient.objects.exists()


def test_revoke_action(admin_client):
    keep, gone = ApiClientFactory(), ApiClientFactory()

    admin_client.post(
        reverse("admin:integrations_apiclient_changelist"),
        {"action": "revoke", "_selected_action": [gone.pk]},
    )

    keep.refresh_from_db()
    gone.refresh_from_db()
    assert gone.revoked_at is not None and keep.revoked_at is None


def test_subscription_secret_shown_once(admin_client):
    client = ApiClientFactory()

    response = admin_client.post(
        reverse("admin:integrations_webhooksubscription_add"),
        {
            "client": client.pk,
            "target_url": "https://shop.example.com/hooks",
            "event_types": ["points.earned", "tier.changed"],
            "active": "on",
        },
    )

    secret = re.search(r'id="shown-once"[^>]*>(whsec_[^<]+)<', response.content.decode()).group(1)
    subscription = client.webhooks.get()
    assert subscription.secret == secret
    assert subscription.event_types == ["points.earned", "tier.changed"]


def test_logs_list_with_filters_and_redeliver(
    admin_client, receiver, django_capture_on_commit_callbacks
):
    hook = receiver()
    subscription = WebhookSubscriptionFactory(target_url=hook.url)
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event_type="points.earned", payload={"points": 5}, attempts=6
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    ApiRequestLog.objects.create(
        client=subscription.client,
        method="POST",
        route="api/v1/ledger/purchases/",
        path="/api/v1/ledger/purchases/",
        status_code=201,
        latency_ms=12,
        created_at=delivery.created_at,
    )

    log = admin_client.get(
        reverse("admin:integrations_apirequestlog_changelist"), {"method": "POST"}
    )
    deliveries = admin_client.get(
        reverse("admin:integrations_webhookdelivery_changelist"), {"status__exact": "failed"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        redelivered = admin_client.post(
            reverse("admin:integrations_webhookdelivery_changelist"),
            {"action": "redeliver", "_selected_action": [delivery.pk]},
        )

    assert log.status_code == 200 and "api/v1/ledger/purchases/" in log.content.decode()
    assert deliveries.status_code == 200 and "points.earned" in deliveries.content.decode()
    assert redelivered.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert len(hook.delivered) == 1


def test_the_log_prune_and_sweep_are_scheduled_and_prune_keeps_recent_rows():
    from datetime import timedelta

    from django.utils import timezone

    client = ApiClientFactory()
    now = timezone.now()
    for age in (40, 1):
        ApiRequestLog.objects.create(
            client=client,
            method="GET",
            route="r",
            path="/p",
            status_code=200,
            latency_ms=1,
            created_at=now - timedelta(days=age),
        )

    assert api_request_log_prune(days=30) == 1
    assert ApiRequestLog.objects.count() == 1
    tasks = {spec.task for spec in REGISTRY.values()}
    assert "loyalty.integrations.tasks.webhook_deliveries_sweep_task" in tasks
    assert "loyalty.integrations.tasks.api_request_log_prune_task" in tasks
