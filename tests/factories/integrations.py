"""API clients and webhook subscriptions, made through their services (keys are hashed there).

The clear key and secret exist only at creation: the factories keep them on the instance as
`raw_key` and `raw_secret` for the test to use.
"""

from typing import Any

import factory
from factory.django import DjangoModelFactory

from loyalty.core.scopes import SCOPES
from loyalty.integrations.models import ApiClient, WebhookSubscription
from loyalty.integrations.services import api_client_create, webhook_subscription_create


class ApiClientFactory(DjangoModelFactory[ApiClient]):
    class Meta:
        model = ApiClient

    name = factory.Sequence(lambda n: f"POS {n}")
    scopes = factory.LazyFunction(lambda: list(SCOPES))
    store = None
    channel = ""
    rate_limit_per_minute = 600

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> ApiClient:
        created = api_client_create(**kwargs)
        created.client.raw_key = created.key  # type: ignore[attr-defined]
        return created.client


class WebhookSubscriptionFactory(DjangoModelFactory[WebhookSubscription]):
    class Meta:
        model = WebhookSubscription

    client = factory.SubFactory(ApiClientFactory)
    target_url = "http://127.0.0.1:9/hook"
    event_types = factory.LazyFunction(lambda: ["points.earned"])
    active = True

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> WebhookSubscription:
        created = webhook_subscription_create(**kwargs)
        created.subscription.raw_secret = created.secret  # type: ignore[attr-defined]
        return created.subscription
