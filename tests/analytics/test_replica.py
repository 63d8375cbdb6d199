"""Analytics reads on a real streaming standby (.ci/analytics-replica starts one).

The test process itself keeps the replica alias mirrored on the primary (settings), so these
tests run `manage.py kpis` in a subprocess configured like production: DATABASE_URL the primary's
test database, DATABASE_REPLICA_URL the same database on the standby. They commit their data
(transactional) so the standby can replay it.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.factories.ledger import earn

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
JUNE = ["--from", "2026-06-01", "--to", "2026-06-30"]


def _url(settings_dict: dict, name: str) -> str:
    return (
        f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:"
        f"{settings_dict['PORT'] or 5432}/{name}"
    )


def _primary_url() -> str:
    return _url(connection.settings_dict, connection.settings_dict["NAME"])


def _standby_url() -> str | None:
    raw = os.environ.get("DATABASE_REPLICA_URL")
    if not raw:
        return None
    import environ

    parsed = environ.Env.db_url_config(raw)
    return _url(parsed, connection.settings_dict["NAME"])  # the test database, replayed


def kpis(replica_url: str) -> tuple[dict, str]:
    env = {
        **os.environ,
        "DATABASE_URL": _primary_url(),
        "DATABASE_REPLICA_URL": replica_url,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "ANALYTICS_REPLICA_LIVE": "1",
        "LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "kpis", *JUNE, "--json", "-v", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def _caught_up(standby: str) -> None:
    with psycopg.connect(_primary_url(), autocommit=True) as primary:
        target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    with psycopg.connect(standby, autocommit=True) as replica:
        for _ in range(300):
            done = replica.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]
            ).fetchone()[0]
            if done:
                return
            time.sleep(0.1)
    raise AssertionError("the standby did not catch up in 30 s")


def test_replica_down_falls_back_to_the_primary_and_logs_it(history):
    data, log = kpis("postgres://postgres@127.0.0.1:1/nowhere")
    assert "read replica unavailable" in log
    assert "reading from database 'default'" in log
    assert data["repeat_purchase_rate"]["buyers"] == 2


def test_reads_go_to_the_standby_and_show_its_lag(history):
    standby = _standby_url()
    if standby is None:
        pytest.skip("needs DATABASE_REPLICA_URL (a streaming standby: .ci/analytics-replica)")
    _caught_up(standby)
    data, log = kpis(standby)
    assert "reading from database 'replica'" in log
    assert data["average_order_value"]["members"]["purchases"] == 3

    # Lag: with replay paused, a purchase committed on the primary is not seen on the standby
    with psycopg.connect(standby, autocommit=True) as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            from tests.analytics.conftest import local

            earn(history.a, "10.00", when=local(2026, 6, 25, 12), store=history.s1)
            stale, _log = kpis(standby)
            assert stale["average_order_value"]["members"]["purchases"] == 3  # behind
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")
    _caught_up(standby)
    fresh, _log = kpis(standby)
    assert fresh["average_order_value"]["members"]["purchases"] == 4
