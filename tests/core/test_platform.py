"""The foundation: health, OpenAPI, docs offline, admin, periodic tasks, demo data, settings."""

import io
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse
from django_celery_beat.models import PeriodicTask
from openapi_spec_validator import validate

from loyalty.core.periodic import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def test_healthz_reports_each_part(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert "broker" in body["checks"]


def test_healthz_is_503_naming_the_broker_when_it_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("down")


def test_openapi_schema_is_valid(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")

    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    validate(document)
    assert document["openapi"].startswith("3.")
    assert "/api/v1/auth/token/" in document["paths"]
    whoami = document["paths"]["/api/v1/auth/whoami/"]["get"]["responses"]
    unauthenticated = whoami["401"]["content"]["application/json"]["schema"]
    assert unauthenticated["allOf"][0]["$ref"].endswith("/Error")
    assert "not_authenticated" in unauthenticated["allOf"][1]["properties"]["code"]["enum"]


def test_swagger_ui_references_only_local_assets(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "https://" not in html.split("<body")[0]


def test_admin_login_page_answers(client):
    assert client.get("/admin/login/").status_code == 200


def test_admin_index_for_superuser(client, superuser):
    client.force_login(superuser)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert b"Loyalty" in response.content


def test_setup_periodic_tasks_is_idempotent():
    call_command("setup_periodic_tasks", stdout=io.StringIO())
    first = list(PeriodicTask.objects.values_list("name", "task", "crontab_id").order_by("name"))
    PeriodicTask.objects.filter(name="Clear expired sessions").update(enabled=False)

    call_command("setup_periodic_tasks", stdout=io.StringIO())

    again = list(PeriodicTask.objects.values_list("name", "task", "crontab_id").order_by("name"))
    assert first == again
    assert {name for name, *_ in again} >= set(REGISTRY)
    # staff switched it off in the admin: re-running the command must not switch it back on
    assert PeriodicTask.objects.get(name="Clear expired sessions").enabled is False


def test_demo_data_is_idempotent_and_creates_the_demo_admin(settings, django_user_model):
    settings.DEBUG = True
    call_command("load_demo_data", stdout=io.StringIO())
    counts = django_user_model.objects.count()

    call_command("load_demo_data", stdout=io.StringIO())

    assert django_user_model.objects.count() == counts
    assert django_user_model.objects.get(username="admin").is_superuser


def test_demo_data_refuses_without_debug(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="development only"):
        call_command("load_demo_data")


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_production_profile_refuses_to_start_without_secret_key():
    result = _manage("check", DJANGO_ENV="production", SECRET_KEY="", ALLOWED_HOSTS="x.example")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_profile_refuses_to_start_without_allowed_hosts():
    result = _manage("check", DJANGO_ENV="production", SECRET_KEY="x" * 60, ALLOWED_HOSTS="")

    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_production_profile_passes_deploy_check_without_warnings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="loyalty.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_paged_lists_are_documented_with_their_page_shape(client):
    document = yaml.safe_load(client.get("/api/schema/").content)

    page = document["components"]["schemas"]["PaginatedMemberList"]
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    listed = document["paths"]["/api/v1/members/"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"]["$ref"].endswith("/PaginatedMemberList")
