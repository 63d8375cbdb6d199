"""Analytics reads on a read replica (DATABASE_REPLICA_URL), the primary otherwise.

Only code inside `with analytics_reads():` is routed (the KPI API, the dashboard, CSV exports,
the `kpis` command): the rest of the app keeps reading the primary, so a till never reads its
own write from a lagging standby. Writes are never routed. When the replica is configured but
does not answer, reads fall back to the primary and a warning is logged (at most once per
RETRY_SECONDS, after which the replica is tried again).

On PostgreSQL the block runs in a transaction with `SET LOCAL`-style settings for analytics
(ANALYTICS_PG_SETTINGS: a larger `work_mem` for the per-member hash aggregates, `jit` off, whose
compile time was 1.8-1.9 s of the KPI plans). They are transaction-scoped (`set_config(...,
true)`), so a PgBouncer in transaction pooling never hands them to another client; inside an
enclosing transaction (a savepoint) the previous values are put back when the block ends.
"""

import contextvars
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, transaction

REPLICA = "replica"
RETRY_SECONDS = 30.0

# transaction-scoped settings of the analytics reads on PostgreSQL (settings may override)
DEFAULT_PG_SETTINGS = {"work_mem": "256MB", "jit": "off"}

logger = logging.getLogger(__name__)
_routing: contextvars.ContextVar[str | None] = contextvars.ContextVar("analytics_db", default=None)
_replica_down_until = 0.0


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def _replica_usable() -> bool:
    global _replica_down_until
    if time.monotonic() < _replica_down_until:
        return False
    try:
        connection = connections[REPLICA]
        connection.ensure_connection()
        if not connection.is_usable():
            connection.close()
            connection.ensure_connection()
        return True
    except DatabaseError as exc:
        _replica_down_until = time.monotonic() + RETRY_SECONDS
        logger.warning(
            "analytics: read replica unavailable (%s); reading from the primary for %ss",
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
            int(RETRY_SECONDS),
        )
        with suppress(DatabaseError):
            connections[REPLICA].close()
        return False


def analytics_database() -> str:
    """The alias analytics reads use now: the replica when configured and answering."""
    if replica_configured() and _replica_usable():
        return REPLICA
    return "default"


@contextmanager
def analytics_reads() -> Iterator[str]:
    """Route the ORM reads made inside the block to analytics_database(); yields the alias."""
    alias = analytics_database()
    token = _routing.set(alias)
    try:
        with analytics_settings(alias):
            yield alias
    finally:
        _routing.reset(token)


def analytics_pg_settings() -> dict[str, str]:
    return dict(getattr(settings, "ANALYTICS_PG_SETTINGS", DEFAULT_PG_SETTINGS))


@contextmanager
def analytics_settings(alias: str) -> Iterator[None]:
    """On PostgreSQL: run the block in a transaction (a savepoint if one is open) with the
    analytics settings set for that transaction only; elsewhere: nothing."""
    connection = connections[alias]
    wanted = analytics_pg_settings()
    if connection.vendor != "postgresql" or not wanted:
        yield
        return
    nested = connection.in_atomic_block
    with transaction.atomic(using=alias):
        names = list(wanted)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT "
                + ", ".join("current_setting(%s), set_config(%s, %s, true)" for _ in names),
                [value for name in names for value in (name, name, wanted[name])],
            )
            row = cursor.fetchone()
        previous = {name: row[2 * i] for i, name in enumerate(names)}
        yield
        if nested:  # SET LOCAL in a released savepoint lasts to the outer transaction's end
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in names),
                    [value for name in names for value in (name, previous[name])],
                )


class AnalyticsReplicaRouter:
    """Settings' DATABASE_ROUTERS entry; does nothing outside analytics_reads()."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return _routing.get()

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return db != REPLICA  # a standby is read-only; it replays the primary's migrations
