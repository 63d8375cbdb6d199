"""Key lifetimes: API keys may expire and are rotated with an overlap; staff tokens expire after
STAFF_TOKEN_LIFETIME_HOURS, record their last use and can be replaced. Every refusal is a 401
with its own code."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from loyalty.core import config_cache
from loyalty.core.models import StaffTokenActivity
from loyalty.integrations.models import ApiClient
from loyalty.integrations.services import (
    api_client_create,
    api_client_revoke,
    api_client_rotate,
    key_hash,
)
from tests.conftest import grant_api_permissions

pytestmark = pytest.mark.django_db

WHOAMI = "/api/v1/auth/whoami/"
STORES = "/api/v1/members/stores/"


def keyed(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def _code(response) -> str:
    assert response.status_code == 401, (response.status_code, response.content)
    return response.json()["code"]


# --- API keys --------------------------------------------------------------------------------


def test_a_key_past_its_expiry_is_refused_with_its_own_code():
    soon = api_client_create(
        name="Trial", scopes=["members:read"], expires_at=timezone.now() + timedelta(hours=1)
    )
    assert keyed(soon.key).get(STORES).status_code == 200
    ApiClient.objects.filter(pk=soon.client.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    config_cache.stamp_bump()  # an UPDATE sends no signal: tell the caches
    response = keyed(soon.key).get(STORES)
    assert _code(response) == "api_key_expired"
    assert "expired" in response.json()["message"]


def test_rotation_keeps_the_old_key_until_the_set_time_then_401():
    created = api_client_create(name="POS", scopes=["members:read"])
    old_key = created.key
    rotated = api_client_rotate(client=created.client, old_key_valid_for=timedelta(hours=2))
    new_key = rotated.key
    assert new_key != old_key
    client = ApiClient.objects.get()
    assert client.key_hash == key_hash(new_key) and client.previous_key_hash == key_hash(old_key)

    assert keyed(new_key).get(STORES).status_code == 200
    assert keyed(old_key).get(STORES).status_code == 200  # still inside the overlap

    ApiClient.objects.update(previous_key_valid_until=timezone.now() - timedelta(seconds=1))
    config_cache.stamp_bump()  # an UPDATE sends no signal: tell the caches
    assert _code(keyed(old_key).get(STORES)) == "api_key_rotated"
    assert keyed(new_key).get(STORES).status_code == 200


def test_a_second_rotation_ends_the_first_key_at_once():
    created = api_client_create(name="POS", scopes=["members:read"])
    second = api_client_rotate(client=created.client)
    third = api_client_rotate(client=second.client)
    assert _code(keyed(created.key).get(STORES)) == "authentication_failed"
    assert keyed(second.key).get(STORES).status_code == 200  # overlap of the last rotation
    assert keyed(third.key).get(STORES).status_code == 200


def test_a_revoked_key_is_refused_with_its_own_code_even_inside_a_rotation():
    created = api_client_create(name="POS", scopes=["members:read"])
    rotated = api_client_rotate(client=created.client)
    api_client_revoke(client=rotated.client)
    assert _code(keyed(rotated.key).get(STORES)) == "api_key_revoked"
    assert _code(keyed(created.key).get(STORES)) == "api_key_revoked"


def test_last_use_is_recorded():
    created = api_client_create(name="POS", scopes=["members:read"])
    assert created.client.last_used_at is None
    keyed(created.key).get(STORES)
    created.client.refresh_from_db()
    assert created.client.last_used_at is not None


def test_admin_sets_an_expiry_rotates_and_shows_the_state(admin_client):
    expiry = (timezone.localtime() + timedelta(days=30)).replace(second=0, microsecond=0)
    response = admin_client.post(
        reverse("admin:integrations_apiclient_add"),
        {
            "name": "Partner trial",
            "scopes": ["members:read"],
            "channel": "",
            "rate_limit_per_minute": 60,
            "expires_at_0": expiry.strftime("%Y-%m-%d"),
            "expires_at_1": expiry.strftime("%H:%M:%S"),
            "notes": "",
        },
    )
    assert response.status_code == 200, response.content[:500]
    client = ApiClient.objects.get()
    assert client.expires_at == expiry

    shown = admin_client.post(
        reverse("admin:integrations_apiclient_changelist"),
        {"action": "rotate", "_selected_action": [client.pk]},
    )
    assert shown.status_code == 200 and "no-store" in shown["Cache-Control"]
    new_key = re.search(r'id="shown-once"[^>]*>(lk_[^<]+)<', shown.content.decode()).group(1)
    client.refresh_from_db()
    assert client.key_hash == key_hash(new_key)
    listing = admin_client.get(reverse("admin:integrations_apiclient_changelist")).content
    assert b"old key (" + client.previous_prefix.encode() + b") accepted until" in listing


# --- staff tokens ------------------------------------------------------------------------------


def _login(username: str, password: str, **extra) -> dict:
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password, **extra}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_a_staff_token_expires_and_a_new_login_issues_a_new_one(staff_user, settings):
    settings.STAFF_TOKEN_LIFETIME_HOURS = 24
    grant_api_permissions(staff_user)
    first = _login("staff", "staff-pass-123")
    assert first["expires_at"] is not None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first['token']}")
    assert client.get(WHOAMI).status_code == 200

    Token.objects.filter(key=first["token"]).update(created=timezone.now() - timedelta(hours=25))
    response = client.get(WHOAMI)
    assert _code(response) == "token_expired"

    second = _login("staff", "staff-pass-123")
    assert second["token"] != first["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {second['token']}")
    assert client.get(WHOAMI).status_code == 200


def test_no_lifetime_means_no_expiry(staff_user, settings):
    settings.STAFF_TOKEN_LIFETIME_HOURS = 0
    body = _login("staff", "staff-pass-123")
    assert body["expires_at"] is None
    Token.objects.update(created=timezone.now() - timedelta(days=3650))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert client.get(WHOAMI).status_code == 200


def test_rotating_a_staff_token_ends_the_old_one_at_once(staff_user):
    old = _login("staff", "staff-pass-123")["token"]
    assert _login("staff", "staff-pass-123")["token"] == old  # a login alone keeps the token
    new = _login("staff", "staff-pass-123", rotate=True)["token"]
    assert new != old
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    assert _code(client.get(WHOAMI)) == "authentication_failed"


def test_a_staff_tokens_last_use_is_recorded_and_shown_in_the_admin(staff_user, admin_client):
    token = _login("staff", "staff-pass-123")["token"]
    assert not StaffTokenActivity.objects.exists()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    client.get(WHOAMI)
    client.get(WHOAMI)  # within the minute: no second write
    activity = StaffTokenActivity.objects.get()
    assert activity.token_id == token
    listing = admin_client.get("/admin/authtoken/tokenproxy/")
    assert listing.status_code == 200
    assert b"Never" not in listing.content and b"never" not in listing.content
    assert b"no limit" not in listing.content  # the default lifetime is 30 days
