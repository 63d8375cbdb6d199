"""Request-level concerns: the staff member's language, idle logout for shared till devices,
and the CSP header."""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

LAST_SEEN = "_last_seen"
# The language a staff member chose (their staff profile, or the clerk screen's switch), kept
# in the session from login on so that no request needs a query to find it.
STAFF_LANGUAGE = "_staff_language"


def supported_language(code: object) -> str | None:
    """code when it is one of settings.LANGUAGES, else None."""
    if isinstance(code, str) and code in {lang for lang, _name in settings.LANGUAGES}:
        return code
    return None


class StaffLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware, with the staff member's own choice first.

    Order: the language saved in the session at login (the staff profile) or by the clerk
    screen's switch; then Django's order (the language cookie, then the browser's
    Accept-Language, then LANGUAGE_CODE). The API (/api/) always follows the request's
    Accept-Language: its clients are systems that say what they want on every call.
    """

    def process_request(self, request: HttpRequest) -> None:
        if not request.path.startswith("/api/") and hasattr(request, "session"):
            language = supported_language(request.session.get(STAFF_LANGUAGE))
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = translation.get_language()
                return
        super().process_request(request)


# Touch the session at most this often, so a page with search-as-you-type does not write the
# session table on every keystroke.
TOUCH_EVERY = 60


class IdleSessionTimeoutMiddleware:
    """Log a user out after settings.SESSION_IDLE_TIMEOUT seconds without a request.

    A till is shared: a clerk who walks away must not leave their session to the next person.
    The request that arrives too late is served as anonymous, so the page's own login rules
    apply (the clerk screen and the admin send it to their login pages).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timeout = settings.SESSION_IDLE_TIMEOUT
        if timeout and hasattr(request, "session") and request.user.is_authenticated:
            now = int(time.time())
            last_seen = request.session.get(LAST_SEEN)
            if isinstance(last_seen, int) and now - last_seen > timeout:
                logout(request)
            elif not isinstance(last_seen, int) or now - last_seen >= TOUCH_EVERY:
                request.session[LAST_SEEN] = now
        return self.get_response(request)


def start_idle_clock(sender: object, request: HttpRequest, user: object, **kwargs: object) -> None:
    """user_logged_in receiver: the login itself is activity, so the next request need not
    write the session."""
    if hasattr(request, "session"):
        request.session[LAST_SEEN] = int(time.time())


class ContentSecurityPolicyMiddleware:
    """Send settings.CONTENT_SECURITY_POLICY (when set) on every response that has none.

    Django 5.2 has no CSP support of its own; this is the one header it needs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response
