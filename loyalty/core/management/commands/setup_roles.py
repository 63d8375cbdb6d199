"""Create or update the staff role groups (Marketing, Store clerk, Finance, Administrator).

Safe to re-run: each group's permissions are set to the table in loyalty/core/roles.py. Run it
again after adding an app so its permissions join the roles (migrate also runs it).
"""

from typing import Any

from django.core.management.base import BaseCommand

from loyalty.core.roles import roles_setup


class Command(BaseCommand):
    help = "Create or update the staff role groups and their permissions."

    def handle(self, *args: Any, **options: Any) -> None:
        for name, count in roles_setup().items():
            self.stdout.write(f"{name}: {count} permission(s)")
