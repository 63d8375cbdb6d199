from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    """Customer service: products bought together, suggestions for a member, feedback and
    complaints (with goodwill points through the ledger)."""

    name = "campaigns.service"
    label = "service"
    verbose_name = _("Customer service")

    def ready(self) -> None:
        from loyalty.core.periodic import PeriodicTaskSpec, register

        register(
            PeriodicTaskSpec(
                "Build products bought together",
                "campaigns.service.tasks.bought_together_rebuild_task",
                "40 3 * * *",  # every night at 03:40, after the ledger's reconcile (02:30)
                "Every night at 03:40, recount which products are bought together.",
            )
        )
