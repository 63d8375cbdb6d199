"""Backup and restore of the whole database, for both engines the project runs on."""

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def backup_database(connection: Any, file: Path) -> int:
    file.parent.mkdir(parents=True, exist_ok=True)
    if connection.vendor == "postgresql":
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                f"--file={file}",
                *_pg_args(connection.settings_dict),
            ],
            connection.settings_dict,
        )
    elif connection.vendor == "sqlite":
        connection.ensure_connection()
        target = sqlite3.connect(file)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
    else:
        raise RuntimeError(f"No backup method for {connection.vendor}.")
    return file.stat().st_size


def restore_database(connection: Any, file: Path, *, database_url: str | None = None) -> None:
    if connection.vendor == "postgresql":
        settings = _pg_settings(database_url) if database_url else connection.settings_dict
        if not database_url:
            connection.close()  # pg_restore --clean drops tables this connection may hold
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--exit-on-error",
                *_pg_args(settings, flag="--dbname"),
                str(file),
            ],
            settings,
        )
    elif connection.vendor == "sqlite":
        source = sqlite3.connect(file)
        try:
            if database_url:
                target = sqlite3.connect(_sqlite_path(database_url))
                try:
                    source.backup(target)
                finally:
                    target.close()
            else:
                connection.ensure_connection()
                source.backup(connection.connection)
        finally:
            source.close()
    else:
        raise RuntimeError(f"No restore method for {connection.vendor}.")


def _sqlite_path(url: str) -> str:
    """sqlite:////abs/path.db or sqlite:///relative/path.db (django-environ's convention)."""
    return urlsplit(url).path[1:]


def _pg_settings(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


def _pg_args(settings: dict[str, Any], flag: str = "--dbname") -> list[str]:
    args = [f"{flag}={settings['NAME']}"]
    if settings.get("HOST"):
        args.append(f"--host={settings['HOST']}")
    if settings.get("PORT"):
        args.append(f"--port={settings['PORT']}")
    if settings.get("USER"):
        args.append(f"--username={settings['USER']}")
    return args


def _run(command: list[str], settings: dict[str, Any]) -> None:
    if shutil.which(command[0]) is None:
        raise RuntimeError(f"{command[0]} is not installed (apt-get install postgresql-client).")
    env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {result.stderr.strip()[-2000:]}")
