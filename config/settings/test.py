"""Test profile: fast hasher, eager Celery, local-memory cache."""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Local memory unless CACHE_URL asks for Redis (to run the rate-limit tests against it).
if not env.str("CACHE_URL", default="").startswith(("redis://", "rediss://")):  # noqa: F405
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests call tasks in-process; the broker test switches this off for its own worker.
CELERY_TASK_ALWAYS_EAGER = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING["root"]["level"] = "WARNING"  # type: ignore[index]  # noqa: F405
# Analytics' read replica: in-process tests read the primary (their data is uncommitted);
# tests/analytics/test_replica.py runs `manage.py kpis` with ANALYTICS_REPLICA_LIVE=1 instead.
if not env.bool("ANALYTICS_REPLICA_LIVE", default=False):  # noqa: F405
    DATABASES.pop("replica", None)  # noqa: F405
# The configuration caches read their stamp once per request (and on every use outside one):
# a change a test makes is seen by its next request or service call at once.
CONFIG_CACHE_MAX_AGE = 0
