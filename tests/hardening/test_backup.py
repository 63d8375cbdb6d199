"""Backup and restore: after a restore the reconcile check passes and the API answers the
balances it answered when the backup was taken (both engines)."""

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from loyalty.ledger.models import PointsAccount
from loyalty.ledger.services import ledger_reconcile, points_redeem
from tests.factories.ledger import ProgrammeSettingsFactory, earn
from tests.factories.members import MemberFactory
from tests.hardening.conftest import FIGURES

SCRATCH_DB = "loyalty_h_hard_restore"


def _history() -> list:
    ProgrammeSettingsFactory()
    members = [MemberFactory() for _ in range(3)]
    for index, member in enumerate(members):
        earn(member, str(Decimal(100 * (index + 1))))
        points_redeem(
            member=member,
            points=10,
            source_type="t",
            source_id=str(index),
            idempotency_key=f"b{index}",
        )
    return members


def _balances_over_api(client, members) -> dict[int, int]:
    return {
        m.pk: client.get(f"/api/v1/ledger/members/{m.pk}/balance/").json()["balance"]
        for m in members
    }


@pytest.mark.django_db(transaction=True)  # the restore replaces pages under no open transaction
def test_sqlite_backup_then_restore_gives_back_the_same_balances(tmp_path, admin_api_client):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite path; PostgreSQL has its own test below")
    members = _history()
    before = _balances_over_api(admin_api_client, members)
    file = tmp_path / "loyalty.sqlite3"

    call_command("backup_database", str(file))
    earn(members[0], "500")  # written after the backup: the restore takes it away
    assert _balances_over_api(admin_api_client, members) != before
    call_command("restore_database", str(file), "--yes")

    assert _balances_over_api(admin_api_client, members) == before
    assert ledger_reconcile() == []
    FIGURES["backups restored"] += 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_dump_restores_into_a_scratch_database_that_reconciles(tmp_path, admin_api_client):
    members = _history()
    before = _balances_over_api(admin_api_client, members)
    file = tmp_path / "loyalty.dump"
    settings = connection.settings_dict
    admin = psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    )
    admin.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}"')
    admin.execute(f'CREATE DATABASE "{SCRATCH_DB}"')
    url = (
        f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}/{SCRATCH_DB}"
    )
    try:
        call_command("backup_database", str(file))
        call_command("restore_database", str(file), "--database-url", url)

        with psycopg.connect(url) as restored:
            rows = dict(
                restored.execute("SELECT member_id, balance FROM ledger_pointsaccount").fetchall()
            )
        assert rows == {m.pk: before[m.pk] for m in members}
        assert rows == dict(PointsAccount.objects.values_list("member_id", "balance"))
        # the project's own reconcile check, run against the restored database
        check = subprocess.run(
            [sys.executable, "manage.py", "reconcile_ledger"],
            env={**__import__("os").environ, "DATABASE_URL": url, "DJANGO_ENV": "test"},
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        FIGURES["backups restored"] += 1
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')
        admin.close()
