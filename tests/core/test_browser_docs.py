"""Swagger UI and the admin in a real browser, with no request leaving the machine."""

from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_renders_the_schema_offline(live_server, page):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")

    assert "Loyalty back office API" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock").count() >= 2  # operations rendered from /api/schema/
    own_host = urlparse(live_server.url).netloc
    foreign = [url for url in requested if urlparse(url).netloc not in {own_host, ""}]
    assert foreign == [], f"requests left the machine: {foreign}"


def test_admin_login_in_a_browser(live_server, page, superuser):
    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "boss-pass-123")
    page.click("button[type=submit]")

    page.wait_for_url(f"{live_server.url}/admin/")
    assert "Loyalty" in page.title()
