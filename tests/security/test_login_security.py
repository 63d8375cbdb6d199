"""Account security: login throttling (django-axes) on every login, strong passwords, and
sessions that end on shared till devices."""

import time
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from loyalty.core.middleware import LAST_SEEN
from tests.security.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"
CLERK_LOGIN = "/clerk/login/"
IP = "10.1.2.3"


def _login(client: Any, url: str, username: str, password: str, ip: str = IP) -> Any:
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _logged_in(client: Any) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("url", [ADMIN_LOGIN, CLERK_LOGIN])
def test_sixth_attempt_is_refused_even_with_the_right_password(client, clerk, url):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _login(client, url, "clerk", "wrong password")
        assert response.status_code == 200 and not _logged_in(client)
    # the 5th failure locks the pair out at once (its answer is the lockout page)
    assert _login(client, url, "clerk", "wrong password").status_code == 429

    locked = _login(client, url, "clerk", PASSWORD)

    assert locked.status_code == 429
    assert b"Too many failed log-in attempts" in locked.content
    assert b"15 minutes" in locked.content
    assert not _logged_in(client)


@pytest.mark.parametrize("url", [ADMIN_LOGIN, CLERK_LOGIN])
def test_lockout_does_not_tell_whether_the_user_exists(client, clerk, url):
    def attempts(username: str) -> list[tuple[int, bytes]]:
        out = []
        for _ in range(settings.AXES_FAILURE_LIMIT + 1):
            response = _login(client, url, username, "wrong password")
            body = response.content.replace(username.encode(), b"<name>")
            body = body.replace(client.cookies["csrftoken"].value.encode(), b"")
            out.append((response.status_code, body if response.status_code == 429 else b""))
        return out

    real, made_up = attempts("clerk"), attempts("nobody-by-that-name")
    assert [code for code, _ in real] == [200] * 4 + [429] * 2
    assert real == made_up


def test_first_failure_message_is_the_same_for_unknown_users(client, clerk):
    known = _login(client, CLERK_LOGIN, "clerk", "wrong password")
    unknown = _login(client, CLERK_LOGIN, "ghost", "wrong password")
    assert known.status_code == unknown.status_code == 200
    assert b"Wrong user name or password" in known.content
    assert b"Wrong user name or password" in unknown.content


def test_lockout_is_per_user_name_and_address(client, clerk, marketer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, ADMIN_LOGIN, "clerk", "wrong password")

    # the same user from another till, and another user from this one, can still log in
    assert _login(client, ADMIN_LOGIN, "clerk", PASSWORD, ip="10.9.9.9").status_code == 302
    client.logout()
    assert _login(client, ADMIN_LOGIN, "marketer", PASSWORD).status_code == 302


def test_a_success_before_the_limit_resets_the_count(client, clerk):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, CLERK_LOGIN, "clerk", "wrong password")
    assert _login(client, CLERK_LOGIN, "clerk", PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, CLERK_LOGIN, "clerk", "wrong password")
    assert _login(client, CLERK_LOGIN, "clerk", PASSWORD).status_code == 302


def test_axes_reset_unlocks_a_user(client, clerk):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, ADMIN_LOGIN, "clerk", "wrong password")
    assert _login(client, ADMIN_LOGIN, "clerk", PASSWORD).status_code == 429

    call_command("axes_reset_username", "clerk")

    assert not AccessAttempt.objects.filter(username="clerk").exists()
    assert _login(client, ADMIN_LOGIN, "clerk", PASSWORD).status_code == 302


def test_api_token_login_is_throttled_too(api_client, clerk):
    url = reverse("auth:token-create")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = api_client.post(
            url, {"username": "clerk", "password": "wrong password"}, REMOTE_ADDR=IP
        )
        assert response.status_code == 401
    refused = api_client.post(url, {"username": "clerk", "password": PASSWORD}, REMOTE_ADDR=IP)
    assert refused.status_code in (401, 429)
    assert "token" not in refused.json()


# --- passwords ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["short-Pass1", "123456789012345", "password1234", "clerk-clerk"]
)
def test_weak_passwords_are_refused(clerk, password):
    with pytest.raises(ValidationError):
        validate_password(password, user=clerk)


def test_a_long_unusual_password_is_accepted(clerk):
    validate_password("till-7-harbour-lantern", user=clerk)


# --- sessions -------------------------------------------------------------------------------


def test_sessions_end_with_the_browser_and_after_a_shift():
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert settings.SESSION_COOKIE_AGE <= 8 * 3600


def test_session_cookie_is_a_browser_session_cookie(client, clerk):
    _login(client, CLERK_LOGIN, "clerk", PASSWORD)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["expires"] == "" and cookie["max-age"] == ""
    assert cookie["httponly"]


def _go_idle(client: Any, seconds: int) -> None:
    session = client.session
    session[LAST_SEEN] = int(time.time()) - seconds
    session.save()


def test_idle_clerk_session_is_logged_out(client, clerk):
    _login(client, CLERK_LOGIN, "clerk", PASSWORD)
    assert client.get("/clerk/").status_code == 200

    _go_idle(client, settings.SESSION_IDLE_TIMEOUT + 5)
    response = client.get("/clerk/")

    assert response.status_code == 302 and response["Location"].startswith(CLERK_LOGIN)
    assert not _logged_in(client)


def test_idle_admin_session_is_logged_out(client, administrator):
    client.force_login(administrator)
    assert client.get("/admin/").status_code == 200
    _go_idle(client, settings.SESSION_IDLE_TIMEOUT + 5)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(ADMIN_LOGIN)


def test_an_active_session_stays(client, clerk):
    _login(client, CLERK_LOGIN, "clerk", PASSWORD)
    _go_idle(client, settings.SESSION_IDLE_TIMEOUT - 30)
    assert client.get("/clerk/").status_code == 200
    assert int(time.time()) - client.session[LAST_SEEN] < 30  # the request counted as activity


@override_settings(SESSION_IDLE_TIMEOUT=0)
def test_idle_timeout_can_be_switched_off(client, clerk):
    _login(client, CLERK_LOGIN, "clerk", PASSWORD)
    _go_idle(client, 10 * 24 * 3600)
    assert client.get("/clerk/").status_code == 200


# --- CSRF -----------------------------------------------------------------------------------


def test_login_forms_need_the_csrf_token(clerk):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    for url in (ADMIN_LOGIN, CLERK_LOGIN):
        response = strict.post(url, {"username": "clerk", "password": PASSWORD})
        assert response.status_code == 403
        assert "_auth_user_id" not in strict.session


def test_clerk_actions_need_the_csrf_token(clerk, my_member, programme):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(clerk)
    url = reverse("clerk:purchase", args=[my_member.pk])
    response = strict.post(url, {"amount": "10.00"})
    assert response.status_code == 403
