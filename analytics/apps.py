from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from loyalty.core.periodic import PeriodicTaskSpec, register

        register(
            PeriodicTaskSpec(
                "Build KPI snapshots",
                "analytics.tasks.kpi_snapshot_build_task",
                "30 1 * * *",  # every night at 01:30, after expiry (00:05) has run
                "Every night at 01:30, write yesterday's daily KPI figures for the dashboard.",
            )
        )
