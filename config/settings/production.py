"""Production profile (DJANGO_ENV=production): refuses to start without its secrets."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False

for _required in ("SECRET_KEY", "ALLOWED_HOSTS"):
    if not env.str(_required, default=""):
        raise ImproperlyConfigured(
            f"{_required} must be set in the environment when DJANGO_ENV=production"
        )
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

# Behind a TLS-terminating proxy (see README, "Production"): trust its X-Forwarded-Proto only
# when there is one (BEHIND_TLS_PROXY=false when the app terminates TLS itself), and believe
# X-Forwarded-For for login throttling only as far as TRUSTED_PROXY_COUNT proxies set it.
if env.bool("BEHIND_TLS_PROXY", default=True):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
_proxies = env.int("TRUSTED_PROXY_COUNT", default=0)
if _proxies:
    AXES_IPWARE_PROXY_COUNT = _proxies
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")  # type: ignore[assignment]
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
# Only this site's own files: no third-party scripts, styles, fonts or frames, no plugins, and
# the pages cannot be framed. The admin theme (unfold) runs Alpine.js, whose standard build
# evaluates its x-data expressions with Function(): hence 'unsafe-eval' for scripts, and inline
# style attributes (progress bars, Alpine's x-show) need 'unsafe-inline' for styles. Inline
# <script> blocks stay forbidden. tests/security/test_headers.py loads the admin and the clerk
# screen in a browser under this policy and fails on any violation.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default=STRICT_CONTENT_SECURITY_POLICY,  # noqa: F405
)
