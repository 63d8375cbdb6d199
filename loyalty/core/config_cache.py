"""Per-process (per-thread) caches of the configuration the purchase and lookup paths read on
every request, invalidated together by one version stamp (ConfigStamp, one row).

An app registers a loader under a name with the models it reads (`register`); `cached(name)`
returns the loaded value. The stamp is read (one primary-key SELECT) at most once per request
and at most once per `CONFIG_CACHE_MAX_AGE` seconds per thread (default 1.0): when it has moved,
every cache of the thread is dropped and reloads on its next use. So a staff edit applies within
a second on every process, and a request sees one version of the configuration throughout.

The stamp moves (`stamp_bump`: a fresh random number, never a counter, so a rolled-back change
can never be mistaken for a later one that reused its number) on every save or delete of a
registered model (post_save / post_delete, in the writer's transaction), and from services that
change those rows with `QuerySet.update()` (no signal), which call `stamp_bump()` themselves.
The thread that bumps drops its own caches at once. `CONFIG_CACHE_MAX_AGE = 0` (the test
settings) reads the stamp once per request and on every use outside a request;
`CONFIG_CACHE_ENABLED = False` turns every cache off (each use loads afresh: the comparison
test in tests/core/test_config_cache_replay.py runs the purchase path both ways).

Cached values are shared by the requests of one thread: callers must not change them (copy
first: `programme_settings_get` returns a copy).
"""

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connection
from django.db.models import Model
from django.db.models.signals import post_delete, post_save

_loaders: dict[str, Callable[[], Any]] = {}


class _State(threading.local):
    def __init__(self) -> None:
        self.version: int | None = None  # the stamp the values were loaded under
        self.checked_at: float | None = None  # time.monotonic() of the last stamp read
        self.in_request = False
        self.checked_in_request = False
        self.values: dict[str, Any] = {}


_state = _State()


def _max_age() -> float:
    return float(getattr(settings, "CONFIG_CACHE_MAX_AGE", 1.0))


def enabled() -> bool:
    return bool(getattr(settings, "CONFIG_CACHE_ENABLED", True))


def stamp_read() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM core_configstamp WHERE id = 1")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _check() -> None:
    state = _state
    if state.checked_at is not None:
        if state.in_request and state.checked_in_request:
            return  # once per request: one version of the configuration throughout
        if time.monotonic() - state.checked_at < _max_age():
            return
    version = stamp_read()
    if version != state.version:
        state.values.clear()
        state.version = version
    state.checked_at = time.monotonic()
    state.checked_in_request = state.in_request


def cached(name: str) -> Any:
    """The value of the cache `name` for this thread (loaded on first use after the stamp
    moved); with caches disabled, loaded afresh."""
    loader = _loaders[name]
    if not enabled():
        return loader()
    _check()
    values = _state.values
    if name in values:
        return values[name]
    value = values[name] = loader()
    return value


def stamp_bump(**kwargs: Any) -> None:
    """Tell every process its configuration caches are stale (one UPDATE, in the caller's
    transaction); this thread's are dropped now. Also a post_save / post_delete receiver."""
    version = secrets.randbits(62)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_configstamp SET version = %s WHERE id = 1", [version])
        updated = cursor.rowcount
    if not updated:
        from loyalty.core.models import ConfigStamp

        ConfigStamp.objects.update_or_create(pk=1, defaults={"version": version})
    cache_clear()


def cache_clear() -> None:
    """Drop this thread's caches and its last stamp read (the next use reads the stamp)."""
    _state.values.clear()
    _state.version = None
    _state.checked_at = None
    _state.checked_in_request = False


def register(name: str, loader: Callable[[], Any], models: Iterable[type[Model]] = ()) -> None:
    """Register a cache; a save or delete of any of `models` bumps the stamp."""
    _loaders[name] = loader
    watch(*models)


def watch(*models: type[Model]) -> None:
    """Bump the stamp on every save or delete of these models (e.g. a higher app's model that a
    lower app's cached rows carry: members' Store on the cached API clients)."""
    for model in models:
        uid = f"config_cache.{model._meta.label_lower}"
        post_save.connect(stamp_bump, sender=model, dispatch_uid=f"{uid}.save", weak=False)
        post_delete.connect(stamp_bump, sender=model, dispatch_uid=f"{uid}.delete", weak=False)


def _request_started(**kwargs: Any) -> None:
    _state.in_request = True
    _state.checked_in_request = False


def _request_finished(**kwargs: Any) -> None:
    _state.in_request = False
    _state.checked_in_request = False


request_started.connect(_request_started, dispatch_uid="config_cache.request_started")
request_finished.connect(_request_finished, dispatch_uid="config_cache.request_finished")
