"""Write a consistent copy of the database to a file (docs/reliability.md, "Backup and restore").

PostgreSQL: `pg_dump --format=custom` (one consistent snapshot, even while the app writes).
SQLite: the sqlite3 online backup API (a consistent page copy, even while the app writes).
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from loyalty.core.backup import backup_database


class Command(BaseCommand):
    help = "Dump the database to FILE (pg_dump -Fc on PostgreSQL, a page copy on SQLite)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, file: Path, database: str, **options: Any) -> None:
        try:
            size = backup_database(connections[database], file)
        except (OSError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Backed up {connections[database].vendor} database to {file} ({size} bytes)."
        )
