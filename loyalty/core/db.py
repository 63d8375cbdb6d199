"""Database session settings that only web processes get (docs/reliability.md).

`web_statement_timeout_install()` is called by config/wsgi.py and config/asgi.py: every new
PostgreSQL connection of a web process gets `statement_timeout = WEB_STATEMENT_TIMEOUT_MS`. A
Celery worker or a management command never imports those modules, so its long statements
(imports, nightly expiry, benchmarks) run without that limit. Behind PgBouncer in transaction
pooling mode (DATABASE_POOLER set) nothing is set per session: see docs/scaling.md.
"""

from typing import Any

from django.conf import settings
from django.db.backends.signals import connection_created

DISPATCH_UID = "loyalty.core.db.web_statement_timeout"


def web_statement_timeout_apply(sender: Any = None, *, connection: Any, **kwargs: Any) -> None:
    timeout = int(getattr(settings, "WEB_STATEMENT_TIMEOUT_MS", 0) or 0)
    if connection.vendor != "postgresql" or timeout <= 0:
        return
    if getattr(settings, "DATABASE_POOLER", ""):
        # behind a transaction pooler a session SET would stay on the server connection for
        # whichever client gets it next (a worker's long job): the pooler sets it instead
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{timeout}ms"])


def web_statement_timeout_install() -> None:
    connection_created.connect(web_statement_timeout_apply, dispatch_uid=DISPATCH_UID)
