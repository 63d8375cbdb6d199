from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "loyalty.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from loyalty.core import periodic  # noqa: F401  (registers the core schedules)
