from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _setup_roles_after_migrate(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """Keep the role groups current after every migrate (and test database set-up).

    post_migrate reaches core before the apps listed after it have their permissions, so those
    are created here first (Django's own handler does the same, idempotently)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    from loyalty.core.roles import roles_setup

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    roles_setup(using=using)


class CoreConfig(AppConfig):
    name = "loyalty.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from loyalty.core import periodic  # noqa: F401  (registers the core schedules)
        from loyalty.core.middleware import start_idle_clock

        user_logged_in.connect(start_idle_clock, dispatch_uid="core.start_idle_clock")
        post_migrate.connect(
            _setup_roles_after_migrate, sender=self, dispatch_uid="core.setup_roles"
        )
