"""Load demo data: every installed app may ship a `demo.py` with `load(stdout)`; idempotent.

First the demo logins, one per staff role (loyalty/core/demo_users.py): generated passwords
printed once at the end, or DEMO_PASSWORD from the environment for all of them.
"""

from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from loyalty.core.demo_users import ENV_PASSWORD, demo_logins_table, demo_users_ensure


class Command(BaseCommand):
    help = "Load the demo programme (stores, members, rules...) and demo logins. Safe to run again."

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("Demo data is for development only (DEBUG is off).")
        try:
            logins = demo_users_ensure()
        except ValidationError as exc:
            raise CommandError(f"{ENV_PASSWORD} is refused: {' '.join(exc.messages)}") from None
        for app_config in apps.get_app_configs():
            try:
                module = import_module(f"{app_config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app_config.name}.demo":
                    raise
                continue
            module.load(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(demo_logins_table(logins)))
