"""Every answer under /api/ is JSON in the error shape whatever DEBUG says, and /favicon.ico
is served (browsers ask for it on every page)."""

import pytest
from django.test import Client

from members.api.views import MemberListApi

pytestmark = pytest.mark.django_db

SHAPE = {"code", "message", "extra"}


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/members/null,null/",
        "/api/v1/ledger/members/null,null/balance/",
        "/api/v1/no-such-thing/",
        "/api/nothing",
    ],
)
def test_unmatched_api_urls_are_json_404_whatever_debug(settings, staff_client, debug, path):
    settings.DEBUG = debug
    response = staff_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == SHAPE and body["code"] == "not_found"


def test_a_crash_under_the_api_with_debug_on_is_a_json_500(settings, superuser, monkeypatch):
    settings.DEBUG = True

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(MemberListApi, "get", boom)
    client = Client(raise_request_exception=False)
    client.force_login(superuser)
    response = client.get("/api/v1/members/")
    assert response.status_code == 500
    assert response.json() == {
        "code": "server_error",
        "message": "Internal error; it has been logged.",
        "extra": {},
    }
    assert b"kaboom" not in response.content


def test_json_errors_keep_their_own_code(settings, api_client):
    settings.DEBUG = True
    response = api_client.get("/api/v1/members/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert "WWW-Authenticate" in response


def test_pages_outside_the_api_keep_djangos_debug_page(settings, client):
    settings.DEBUG = True
    response = client.get("/clerk/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_favicon_is_served_from_our_own_files(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file header
    assert "max-age=86400" in response["Cache-Control"]
