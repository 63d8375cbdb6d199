"""Security headers in production, and a browser check that the Content-Security-Policy lets
the admin, the clerk screen and the API docs work while allowing only this site's own files."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from tests.factories.ledger import EarningRuleFactory

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_CHECK = [
    sys.executable,
    "manage.py",
    "check",
    "--deploy",
    "--tag",
    "security",
    "--fail-level",
    "WARNING",
]


def _production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="loyalty.example.com",
        **extra,
    )
    return env


def test_production_settings_pass_the_deploy_security_checks():
    result = subprocess.run(
        DEPLOY_CHECK,
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_would_catch_a_weak_setting():
    result = subprocess.run(
        DEPLOY_CHECK,
        cwd=ROOT,
        env=_production_env(SECURE_HSTS_SECONDS="0", SECURE_SSL_REDIRECT="false"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # HSTS off
    assert "security.W008" in result.stderr + result.stdout  # no HTTPS redirect


PROBE = """
import json, django
django.setup()
from django.test import Client
from django.conf import settings
client = Client()
https = client.get("/admin/login/", secure=True, HTTP_HOST="loyalty.example.com")
proxied = client.get(
    "/admin/login/", HTTP_HOST="loyalty.example.com", HTTP_X_FORWARDED_PROTO="https"
)
plain = client.get("/admin/login/", HTTP_HOST="loyalty.example.com")
csrf = https.cookies.get(settings.CSRF_COOKIE_NAME)
print(json.dumps({
    "status": https.status_code,
    "headers": dict(https.headers),
    "proxied_status": proxied.status_code,
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location"),
    "csrf_secure": bool(csrf and csrf["secure"]),
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "session_age": settings.SESSION_COOKIE_AGE,
    "expire_at_close": settings.SESSION_EXPIRE_AT_BROWSER_CLOSE,
}))
"""


def test_production_responses_carry_the_security_headers():
    env = _production_env(DJANGO_SETTINGS_MODULE="config.settings.production")
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    headers = probe["headers"]

    assert probe["status"] == 200
    assert probe["proxied_status"] == 200  # behind the TLS proxy: X-Forwarded-Proto counts
    assert probe["plain_status"] == 301
    assert probe["plain_location"].startswith("https://loyalty.example.com/")
    hsts = headers["Strict-Transport-Security"]
    assert "max-age=31536000" in hsts and "includeSubDomains" in hsts
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp and "http" not in csp  # no other origin anywhere
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert probe["csrf_secure"] and probe["session_secure"]
    assert probe["session_age"] <= 8 * 3600 and probe["expire_at_close"]


@pytest.mark.django_db
def test_csp_middleware_sends_the_policy_when_set(client):
    assert "Content-Security-Policy" not in client.get("/admin/login/")  # dev: off
    with override_settings(CONTENT_SECURITY_POLICY="default-src 'self'"):
        response = client.get("/admin/login/")
    assert response["Content-Security-Policy"] == "default-src 'self'"


# --- the policy in a real browser -----------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_pages_work_under_the_strict_policy(live_server, page, superuser, programme, my_member):
    rule = EarningRuleFactory(name="Double points")
    violations: list[str] = []

    def watch(message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "EvalError" in text or "unsafe-eval" in text:
            violations.append(f"{page.url}: {text}")

    page.on("console", watch)
    page.on("pageerror", lambda error: violations.append(f"{page.url}: {error}"))

    with override_settings(CONTENT_SECURITY_POLICY=settings.STRICT_CONTENT_SECURITY_POLICY):
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("input[name=username]", "boss")
        page.fill("input[name=password]", "boss-pass-123")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")  # lands on the index, not a 404
        for path in (
            "/admin/",
            "/admin/members/member/",
            f"/admin/members/member/{my_member.pk}/change/",
            f"/admin/members/member/{my_member.pk}/history/",
            f"/admin/ledger/earningrule/{rule.pk}/change/",
            "/admin/core/auditlog/",
            "/clerk/",
            f"/clerk/members/{my_member.pk}/",
            "/api/docs/",
        ):
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.status == 200, path
            assert "default-src 'self'" in response.headers["content-security-policy"]
            page.wait_for_load_state("networkidle")
        # Alpine.js (the admin theme's scripting) is loaded and running
        page.goto(f"{live_server.url}/admin/")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("typeof window.Alpine") == "object"
        # the API docs rendered from the separate script file
        page.goto(f"{live_server.url}/api/docs/")
        page.wait_for_selector(".swagger-ui .info", timeout=15_000)

    assert violations == []
