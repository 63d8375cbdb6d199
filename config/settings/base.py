"""Settings shared by every profile. Everything is driven by environment variables.

With no environment set the app runs embedded: SQLite under var/, Celery tasks run eagerly
in-process, e-mail goes to the console. DATABASE_URL switches to PostgreSQL and
CELERY_BROKER_URL to a real broker (see README, "Configuration").
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

# --- Core ---------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-dev-key-change-me-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # unfold must come before django.contrib.admin so its templates win
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.import_export",
    "unfold.contrib.simple_history",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "import_export",
    "simple_history",
    "axes",  # login throttling (see "Account security" below)
    # our apps, in dependency order: core <- members <- ledger <- tiers <- rewards <- campaigns <- analytics
    "loyalty.core",
    "members",
    "loyalty.ledger",
    "loyalty.tiers",
    "rewards",
    "campaigns",
    "campaigns.service",  # customer service: bought together, suggestions, feedback
    "campaigns.engagement",  # badges, streaks, lifecycle stages (label "engagement")
    "campaigns.membership",  # the paid club (label "membership"), in the campaigns layer
    "campaigns.games",  # prize wheel and sweepstakes (label "games")
    "campaigns.events",  # member events: RSVP, waitlist, check-in (label "events")
    "analytics",
    "loyalty.clerk",  # the till screen, on top of all of them
    "loyalty.bench",  # the benchmark data generator (generate_benchmark_data), also on top
    "loyalty.integrations",  # API clients with scoped keys, request log, webhooks
    "loyalty.backoffice",  # staff screens over all apps (member story, rule simulator)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "loyalty.core.api.handlers.ApiJsonErrorsMiddleware",  # JSON errors under /api/, even with DEBUG
    "loyalty.integrations.middleware.ApiRequestLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # after sessions (reads the staff member's language saved at login), before CommonMiddleware;
    # a LocaleMiddleware: then the language cookie (clerk switch), then Accept-Language
    "loyalty.core.middleware.StaffLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # the programme's time zone for staff pages (admin, clerk screen); not for /api/
    "loyalty.ledger.timezones.ProgrammeTimeZoneMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # who made a change, for the audit trail
    "loyalty.core.middleware.IdleSessionTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "loyalty.core.middleware.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a locked-out login into the lockout page
    "loyalty.core.api.query.UnknownQueryParameterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
(BASE_DIR / "var" / "staticfiles").mkdir(parents=True, exist_ok=True)
# "pgbouncer" when DATABASE_URL is a transaction pooler (see below and docs/scaling.md)
DATABASE_POOLER = env.str("DATABASE_POOLER", default="")
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dev server and an eager Celery task read while another request writes.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # a persistent connection the server closed (restart, failover) is noticed before a
    # request uses it, instead of failing that request
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # PostgreSQL 14+: while a query runs, check every N ms that the client is still there, so
    # the query of a killed or timed-out worker stops instead of holding its locks (0: off)
    _check_ms = env.int("DB_CLIENT_CONNECTION_CHECK_MS", default=5_000)
    # DATABASE_POOLER=pgbouncer: DATABASE_URL points at PgBouncer in transaction pooling mode
    # (docs/scaling.md). A server connection then serves another client after each transaction,
    # so the app keeps no session state: no server-side cursors (.iterator() reads on the
    # client), no startup `options` (PgBouncer refuses them) and no session SET
    # (loyalty/core/db.py skips the web statement_timeout; the pooler's connect_query or the
    # database role sets statement_timeout and client_connection_check_interval instead).
    if DATABASE_POOLER:
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
        _check_ms = 0
    if _check_ms:
        _options = DATABASES["default"].setdefault("OPTIONS", {})
        _options["options"] = (
            f"{_options.get('options', '')} -c client_connection_check_interval={_check_ms}"
        ).strip()
# The longest a web request's SQL statement may run, in ms; set per connection of the web
# processes only (config/wsgi.py, config/asgi.py through loyalty.core.db): longer than any
# legitimate request, shorter than the app server's worker timeout (gunicorn --timeout 30, see
# README), so a runaway query ends with an error the worker answers, not a killed worker.
# Celery workers and management commands (imports, benchmarks) run without it. 0: off.
WEB_STATEMENT_TIMEOUT_MS = env.int("WEB_STATEMENT_TIMEOUT_MS", default=20_000)
# Connections the nightly expiry uses at once on PostgreSQL (loyalty/ledger/services/jobs.py):
# its batches hold disjoint accounts, so they run side by side; 1: one batch after another.
LEDGER_EXPIRY_WORKERS = env.int("LEDGER_EXPIRY_WORKERS", default=2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Read replica for analytics (docs/analytics.md): KPI queries and CSV exports read a streaming
# standby when DATABASE_REPLICA_URL is set; everything else, and every write, uses the primary.
# The test profile drops the alias (tests/analytics/test_replica.py reaches the standby in a
# subprocess with ANALYTICS_REPLICA_LIVE=1).
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db_url("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"].setdefault("OPTIONS", {})["connect_timeout"] = 3
DATABASE_ROUTERS = ["analytics.routing.AnalyticsReplicaRouter"]
# PostgreSQL settings of the analytics reads, for their transaction only (analytics/routing.py):
# memory for the per-member hash aggregates of the KPIs (per sort/hash node and worker), and no
# JIT (its compile time outweighed its gain on every KPI plan measured). Empty values: unset.
ANALYTICS_PG_SETTINGS = {
    name: value
    for name, value in {
        "work_mem": env.str("ANALYTICS_WORK_MEM", default="256MB"),
        "jit": env.str("ANALYTICS_JIT", default="off"),
    }.items()
    if value
}

# --- Cache --------------------------------------------------------------------------------
# CACHE_URL wins; else a Redis broker doubles as the cache (API key rate limits must be shared
# by every worker process); else local memory (one process: the embedded mode).
_cache_url = env.str("CACHE_URL", default="")
_broker_url = env.str("CELERY_BROKER_URL", default="")
if not _cache_url and _broker_url.startswith(("redis://", "rediss://")):
    _cache_url = _broker_url
CACHES = {"default": env.cache_url_config(_cache_url or "locmemcache://loyalty")}
CACHES["default"].setdefault("KEY_PREFIX", "loyalty")

# Per-process caches of the configuration a purchase reads (programme settings, rules, tier
# ladder, engagement settings, active campaigns, API keys): loyalty/core/config_cache.py. Each
# process reads the one-row version stamp at most once per request and per this many seconds,
# so a staff edit applies within CONFIG_CACHE_MAX_AGE seconds everywhere. 0: once per request.
CONFIG_CACHE_MAX_AGE = env.float("CONFIG_CACHE_MAX_AGE", default=1.0)
CONFIG_CACHE_ENABLED = env.bool("CONFIG_CACHE_ENABLED", default=True)

# --- Auth ---------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# The admin theme's login form carries no "next" field: without this, logging in at
# /admin/login/ itself would land on Django's default /accounts/profile/ (a 404).
LOGIN_REDIRECT_URL = "admin:index"

# --- Account security (docs/security.md) -------------------------------------------------
# A staff API token stops working this many hours after it was issued (401 token_expired; log
# in again at POST /api/v1/auth/token/ for a new one). 0: no limit.
STAFF_TOKEN_LIFETIME_HOURS = env.int("STAFF_TOKEN_LIFETIME_HOURS", default=30 * 24)
# django-axes checks every authenticate() call (admin, clerk screen, API token) before the
# password: 5 failures for one user name from one address lock that pair out for 15 minutes,
# whether or not the user exists, so the answer says nothing about which names are real.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "axes/locked_out.html"
# The client address is REMOTE_ADDR unless a trusted proxy count is configured (production.py);
# a client-supplied X-Forwarded-For is never believed on its own.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
# Shared till devices: a session lasts one shift at most, ends with the browser, and is logged
# out after SESSION_IDLE_TIMEOUT seconds without a request (0 turns the idle check off).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=15 * 60)
# Sent by loyalty.core.middleware.ContentSecurityPolicyMiddleware when set; production.py sets
# STRICT_CONTENT_SECURITY_POLICY (only this site's own files; see the comment there).
STRICT_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
CONTENT_SECURITY_POLICY: str | None = env.str("CONTENT_SECURITY_POLICY", default="") or None

# --- I18N (docs/languages.md) -------------------------------------------------------------
# English and Simplified Chinese are shipped. The one catalogue is config/locale/zh_Hans; its
# .mo is compiled by `make install` (never committed). `make messages` refreshes the .po.
LANGUAGE_CODE = "en-gb"
LANGUAGES = [
    ("en-gb", "English"),
    ("zh-hans", "简体中文"),
]
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/London")
USE_I18N = True
USE_TZ = True
# our own formats over Django's per language (config/formats/en_GB: the 24-hour clock)
FORMAT_MODULE_PATH = ["config.formats"]

# --- Static and media ---------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- E-mail -------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="loyalty@localhost")

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Import/export -----------------------------------------------------------------------
# Cells starting with = + - @ are prefixed so a spreadsheet never runs them as formulas.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
# Import and export buttons need <app>.import_<model> / <app>.export_<model> (see
# loyalty/core/roles.py): a clerk who may view members may not export them.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"

# --- Audit trail (django-simple-history) -------------------------------------------------
# History is read-only: putting an old version back must go through the services, not a
# "revert" button that saves the row directly.
SIMPLE_HISTORY_REVERT_DISABLED = True

# --- Programme defaults -------------------------------------------------------------------
# Region used to read phone numbers written without a country code.
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="GB")

from .admin import *  # noqa: E402,F403
from .celery import *  # noqa: E402,F403
from .rest_framework import *  # noqa: E402,F403
