"""Global fixtures and the rules for tests that need PostgreSQL, a broker or a browser."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the translation catalogues when a .po is newer than its .mo (`make install` does
    it too; this covers a bare `pytest` run right after `make messages` or a merge)."""
    import subprocess

    for po in (Path(__file__).resolve().parent.parent / "config" / "locale").glob("*/*/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            subprocess.run(["msgfmt", "--check-format", "-o", str(mo), str(po)], check=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    has_broker = bool(settings.CELERY_BROKER_URL)
    has_chromium = Path(CHROMIUM).exists() or shutil.which("chromium") is not None
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(
                pytest.mark.skip(
                    reason="needs PostgreSQL (SQLite has no row locks); runs in .ci/run's second pass"
                )
            )
        if "broker" in item.keywords and not has_broker:
            item.add_marker(
                pytest.mark.skip(reason="needs CELERY_BROKER_URL (a real Redis broker)")
            )
        if "browser" in item.keywords and not has_chromium and not IN_CI:
            item.add_marker(pytest.mark.skip(reason=f"no chromium at {CHROMIUM}"))


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def staff_user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(
        username="staff", password="staff-pass-123", is_staff=True
    )


@pytest.fixture
def superuser(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser(
        username="boss", email="boss@example.com", password="boss-pass-123"
    )


def grant_api_permissions(user: Any) -> None:
    """The model permissions the API scopes map to (loyalty/core/scopes.py)."""
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    from loyalty.core.scopes import SCOPE_PERMISSIONS

    wanted = Q(pk__in=[])
    for perms in SCOPE_PERMISSIONS.values():
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted |= Q(content_type__app_label=app_label, codename=codename)
    user.user_permissions.add(*Permission.objects.filter(wanted))


def token_in_use(user: Any) -> Token:
    """The user's token, already used this minute: the first request of a test does not write
    its last-used time (loyalty/core/api/tokens.py), so query counts compare like with like."""
    from django.utils import timezone

    from loyalty.core.models import StaffTokenActivity

    token, _ = Token.objects.get_or_create(user=user)
    StaffTokenActivity.objects.get_or_create(token=token, defaults={"last_used_at": timezone.now()})
    return token


@pytest.fixture
def staff_client(staff_user: Any) -> APIClient:
    """A staff user's token client, holding the permissions the API scopes need."""
    grant_api_permissions(staff_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_in_use(staff_user).key}")
    return client


@pytest.fixture
def admin_api_client(superuser: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_in_use(superuser).key}")
    return client


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright; never a downloaded browser."""
    if not (Path(CHROMIUM).exists()):
        if IN_CI:
            pytest.fail(f"chromium missing at {CHROMIUM}: .ci/run must install it")
        pytest.skip(f"no chromium at {CHROMIUM}")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by tests
    # around it are still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _programme_zone_not_cached() -> Iterator[None]:
    """The programme's time zone is cached across requests (loyalty.ledger.timezones); a test's
    rolled-back programme settings must not leave theirs to the next test."""
    from django.core.cache import cache

    from loyalty.ledger.timezones import ZONE_CACHE_KEY

    cache.delete(ZONE_CACHE_KEY)
    yield


@pytest.fixture(autouse=True)
def _config_caches_dropped() -> Iterator[None]:
    """The configuration caches (loyalty/core/config_cache.py) live per thread across
    requests; a test's rolled-back settings, rules or tiers must not reach the next test."""
    from loyalty.core import config_cache

    config_cache.cache_clear()
    yield
    config_cache.cache_clear()
