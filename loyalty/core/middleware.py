"""Request-level security: idle logout for shared till devices, and the CSP header."""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

LAST_SEEN = "_last_seen"
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
