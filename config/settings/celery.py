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
# Worker recovery (docs/reliability.md, "Workers that die"). With acks_late a task's message stays
# in Redis, unacknowledged, until the task ends; if the whole worker dies (SIGKILL, the machine
# goes), another worker takes the message back once it has been out for the visibility timeout
# (kombu checks about every 10 s). Redis' default is an hour; ours is 10 minutes. It must be
# longer than any task may run, or a task still running would be handed to a second worker:
# every task has a hard time limit below it (CELERY_TASK_TIME_LIMIT and LONG_TASK_LIMITS).
BROKER_VISIBILITY_TIMEOUT = _env.int("CELERY_VISIBILITY_TIMEOUT", default=600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
}
# Short tasks (a webhook send: 15 s of HTTP timeouts at most; sweeps; alerts): soft limit 1
# minute (the task gets SoftTimeLimitExceeded and ends cleanly), hard limit 2 (the pool process
# is killed). A task that hits its limit fails and is acknowledged: it is not redelivered; the
# sweeps and the next night's beat run pick up what it left, since every task is idempotent.
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 120
# The nightly jobs, set one by one. At the benchmark's 11 million ledger entries the longest
# (expiry) takes 13 s and period end 7 s (docs/performance.md): 7 minutes soft, 8 hard leaves
# room for about 30 times that, and stays below the visibility timeout. Expiry commits per batch
# of accounts, so a job stopped by its soft limit keeps whole batches and the next run goes on.
LONG_TASK_LIMITS = {
    "loyalty.ledger.tasks.points_expire_due_task": (420, 480),
    "loyalty.ledger.tasks.points_release_pending_task": (420, 480),
    "loyalty.ledger.tasks.points_expiry_warn_task": (420, 480),
    "loyalty.ledger.tasks.ledger_reconcile_task": (420, 480),
    "loyalty.ledger.tasks.purchase_stats_rebuild_task": (420, 480),
    "loyalty.tiers.tasks.tier_period_end_evaluate_task": (420, 480),
    "rewards.tasks.vouchers_expire_due_task": (420, 480),
    "loyalty.core.tasks.sessions_clear_expired_task": (240, 300),
    "loyalty.integrations.tasks.api_request_log_prune_task": (240, 300),
}
CELERY_TASK_ANNOTATIONS = {
    name: {"soft_time_limit": soft, "time_limit": hard}
    for name, (soft, hard) in LONG_TASK_LIMITS.items()
}
