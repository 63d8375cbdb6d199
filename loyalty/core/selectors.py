"""Reads of the shared kernel: health of the parts the app depends on."""

from typing import TypedDict

from django.conf import settings
from django.db import connection


class HealthReport(TypedDict):
    healthy: bool
    checks: dict[str, str]


def health_report() -> HealthReport:
    """Probe the database and, when one is configured, the Celery broker."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "down"; the message says which
        checks["database"] = f"down: {exc.__class__.__name__}: {exc}"[:300]

    if settings.CELERY_BROKER_URL:
        from kombu import Connection

        try:
            with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:  # type: ignore[no-untyped-call]
                conn.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"down: {exc.__class__.__name__}: {exc}"[:300]
    else:
        checks["broker"] = "not configured (tasks run in-process)"

    healthy = all(not value.startswith("down") for value in checks.values())
    return {"healthy": healthy, "checks": checks}
