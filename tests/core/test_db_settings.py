"""Production database settings: health checks on persistent connections, PostgreSQL noticing
clients that went away, and a statement timeout for web requests only (shorter than the worker
timeout; Celery workers and commands keep none)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import OperationalError, connection, transaction

from loyalty.core.db import web_statement_timeout_apply

ROOT = Path(__file__).resolve().parents[2]
PG_URL = "postgres://postgres@127.0.0.1:5432/loyalty_settings_probe"


def _python(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG"}}
    clean.update(env)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_production_settings_load_with_health_checks_and_timeouts():
    out = _python(
        "import json, django; from django.conf import settings as s; "
        "db = s.DATABASES['default']; "
        "print(json.dumps([db['CONN_HEALTH_CHECKS'], db['CONN_MAX_AGE'], "
        "db['OPTIONS'].get('options', ''), s.WEB_STATEMENT_TIMEOUT_MS]))",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DATABASE_URL=PG_URL,
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="loyalty.example.com",
    )
    health, max_age, options, timeout = json.loads(out)
    assert health is True and max_age == 60
    assert "-c client_connection_check_interval=5000" in options
    # shorter than the worker timeout the README gives gunicorn (30 s), long enough for any
    # legitimate request (the slowest measured in docs/performance.md are well under a second)
    assert 0 < timeout < 30_000


def test_the_timeout_and_the_check_interval_can_be_turned_off():
    out = _python(
        "import json, django; from django.conf import settings as s; "
        "print(json.dumps([s.DATABASES['default'].get('OPTIONS', {}).get('options', ''), "
        "s.WEB_STATEMENT_TIMEOUT_MS]))",
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=PG_URL,
        DB_CLIENT_CONNECTION_CHECK_MS="0",
        WEB_STATEMENT_TIMEOUT_MS="0",
    )
    assert json.loads(out) == ["", 0]


postgres = pytest.mark.postgres


def _probe_env() -> dict[str, str]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {"DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": url}


SHOW = (
    "from django.db import connection; c = connection.cursor(); "
    "c.execute('SHOW statement_timeout'); t = c.fetchone()[0]; "
    "c.execute('SHOW client_connection_check_interval'); print(t, c.fetchone()[0])"
)


@postgres
@pytest.mark.django_db
def test_a_web_process_gets_the_statement_timeout_and_a_worker_does_not():
    env = _probe_env()
    web = _python("import config.wsgi; " + SHOW, **env)
    worker = _python("import django; django.setup(); import config.celery; " + SHOW, **env)
    assert web == "20s 5s"
    assert worker == "0 5s"


@postgres
@pytest.mark.django_db
def test_the_statement_timeout_stops_a_long_statement(settings):
    settings.WEB_STATEMENT_TIMEOUT_MS = 200
    with transaction.atomic():  # the SET is undone with the test's transaction
        web_statement_timeout_apply(connection=connection)
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == "200ms"
        with (
            pytest.raises(OperationalError, match="statement timeout"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT pg_sleep(2)")


@postgres
@pytest.mark.django_db
def test_the_test_process_itself_has_the_check_interval():
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
    with connection.cursor() as cursor:
        cursor.execute("SHOW client_connection_check_interval")
        assert cursor.fetchone()[0] == "5s"


def test_behind_a_transaction_pooler_no_session_state_is_configured():
    """DATABASE_POOLER=pgbouncer (docs/scaling.md): no server-side cursors, no startup options
    (PgBouncer refuses them); the default keeps both."""
    code = (
        "import json, django; from django.conf import settings as s; "
        "db = s.DATABASES['default']; "
        "print(json.dumps([db.get('DISABLE_SERVER_SIDE_CURSORS', False), "
        "db.get('OPTIONS', {}).get('options', ''), s.DATABASE_POOLER]))"
    )
    pooled = _python(
        code,
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=PG_URL,
        DATABASE_POOLER="pgbouncer",
    )
    direct = _python(code, DJANGO_SETTINGS_MODULE="config.settings.local", DATABASE_URL=PG_URL)
    assert json.loads(pooled) == [True, "", "pgbouncer"]
    assert json.loads(direct) == [False, "-c client_connection_check_interval=5000", ""]


@postgres
@pytest.mark.django_db
def test_behind_a_pooler_a_web_process_sets_nothing_on_its_session():
    env = _probe_env() | {"DATABASE_POOLER": "pgbouncer"}
    web = _python("import config.wsgi; " + SHOW, **env)
    assert web == "0 0"  # the pooler's connect_query (or the role) sets these instead
