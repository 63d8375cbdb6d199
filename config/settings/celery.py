"""Celery: eager in-process without a broker, Redis (or any Kombu URL) with CELERY_BROKER_URL."""

import environ

_env = environ.Env()

CELERY_BROKER_URL = _env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = _env.str("CELERY_RESULT_BACKEND", default="") or None
# No broker configured means the embedded mode: run every task in-process, right away.
CELERY_TASK_ALWAYS_EAGER = _env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True  # a task killed mid-run is redelivered; tasks are idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = _env.str("TIME_ZONE", default="Europe/London")
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# With the broker down, a request that queues work (a webhook, a low-stock mail) must not hold
# the till: one quick retry, then the submission fails, is logged, and the outbox sweep retries
# it later (Celery's default, three retries with back-off, held each such request ~2.3 s).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1}
