from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "loyalty.integrations"
    label = "integrations"
    verbose_name = _("Integrations (API clients and webhooks)")

    def ready(self) -> None:
        from loyalty.core import events
        from loyalty.core.periodic import PeriodicTaskSpec, register
        from loyalty.integrations import schema  # noqa: F401  (registers the OpenAPI scheme)
        from loyalty.integrations.services import (
            webhook_event_subscriber,
            webhook_event_subscriber_many,
        )

        events.subscribe(webhook_event_subscriber, many=webhook_event_subscriber_many)
        for spec in (
            PeriodicTaskSpec(
                "Sweep webhook deliveries",
                "loyalty.integrations.tasks.webhook_deliveries_sweep_task",
                "* * * * *",
                "Every minute, send webhook deliveries that are due (retries, and events the "
                "broker never received).",
            ),
            PeriodicTaskSpec(
                "Prune the API request log",
                "loyalty.integrations.tasks.api_request_log_prune_task",
                "40 3 * * *",
                "Every night at 03:40, delete API request log rows and idempotency keys older "
                "than 30 days.",
            ),
        ):
            register(spec)
