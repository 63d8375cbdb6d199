"""Put a backup made by backup_database back (docs/reliability.md, "Backup and restore").

By default into the configured database, replacing what is there (--yes required). With
--database-url, into another PostgreSQL database or SQLite file instead (to check a backup, or
to restore next to production and switch over).
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from loyalty.core.backup import restore_database


class Command(BaseCommand):
    help = "Restore FILE made by backup_database (pg_restore on PostgreSQL, a page copy on SQLite)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--database", default="default")
        parser.add_argument(
            "--database-url",
            default="",
            help="restore into this database instead (postgres://... or sqlite:///path)",
        )
        parser.add_argument(
            "--yes", action="store_true", help="confirm replacing the configured database"
        )

    def handle(
        self, *args: Any, file: Path, database: str, database_url: str, yes: bool, **o: Any
    ) -> None:
        if not file.exists():
            raise CommandError(f"No such backup file: {file}")
        if not database_url and not yes:
            raise CommandError("This replaces the configured database: add --yes to confirm.")
        try:
            restore_database(connections[database], file, database_url=database_url or None)
        except (OSError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Restored {file} into {database_url or 'the configured database'}.")
