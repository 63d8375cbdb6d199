"""Every admin list and change page of a populated database renders without a hidden error.

The admin swallows AttributeError, ValueError and TypeError raised by a display method or a
read-only field and shows "-" instead (that is how "Recent entries" stayed empty for months).
This test wraps the admin's lookup_field wherever it is imported, records every exception it
raises, and fails on any of them, besides failing on any status other than 200/302.
"""

import io
import re
from collections.abc import Iterator

import pytest
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin import utils as admin_utils
from django.contrib.admin.templatetags import admin_list
from django.core.exceptions import ObjectDoesNotExist
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse
from unfold import fields as unfold_fields
from unfold.templatetags import unfold_list

from loyalty.ledger.services import points_adjust
from members.models import Member
from tests.factories.ledger import ProgrammeSettingsFactory, earn
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db

PAGES_PER_MODEL = 3
NO_NAME = re.compile(
    r"\b[A-Z]\w+ object \(\d+\)"
)  # Django's default __str__  # the first few objects of each list: enough to hit every display method


@pytest.fixture
def hidden_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    errors: list[str] = []
    original = admin_utils.lookup_field

    def recording_lookup_field(name, obj, model_admin=None):  # type: ignore[no-untyped-def]
        try:
            return original(name, obj, model_admin)
        except ObjectDoesNotExist:
            raise  # a missing optional relation: the admin's "-" is the right answer
        except Exception as exc:
            errors.append(f"{type(obj).__name__}.{name}: {type(exc).__name__}: {exc}")
            raise

    for module in (helpers, admin_list, unfold_fields, unfold_list):
        monkeypatch.setattr(module, "lookup_field", recording_lookup_field)
    yield errors


def _populate(settings, superuser) -> Member:  # type: ignore[no-untyped-def]
    settings.DEBUG = True  # load_demo_data refuses to run without it
    call_command("load_demo_data", stdout=io.StringIO())
    member = Member.objects.filter(points_account__entries__isnull=False).first()
    assert member is not None
    points_adjust(
        member=member, points=-1, reason="goodwill fix", actor=superuser, idempotency_key="t1"
    )
    return member


def test_every_changelist_and_change_page_renders_without_hidden_errors(
    client, settings, superuser, hidden_errors
):
    _populate(settings, superuser)
    client.force_login(superuser)
    visited = 0
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        try:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        except NoReverseMatch:
            continue
        response = client.get(url)
        assert response.status_code in (200, 302), (url, response.status_code)
        visited += 1
        try:
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[1])
        except NoReverseMatch:
            continue  # a list-only page (the audit log)
        queryset = model_admin.get_queryset(_request_for(superuser))
        for obj in queryset[:PAGES_PER_MODEL]:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            response = client.get(change)
            assert response.status_code in (200, 302), (change, response.status_code)
            unnamed = NO_NAME.findall(response.content.decode())
            assert not unnamed, (change, unnamed[:3])  # every object has a human label
            visited += 1
    assert visited > 40
    assert hidden_errors == []


def test_member_page_lists_recent_entries_with_signed_amounts(client, superuser, hidden_errors):
    ProgrammeSettingsFactory()
    member = MemberFactory()
    earn(member, "42")
    points_adjust(
        member=member, points=-5, reason="goodwill fix", actor=superuser, idempotency_key="t1"
    )
    client.force_login(superuser)

    page = client.get(reverse("admin:members_member_change", args=[member.pk])).content.decode()

    assert hidden_errors == []
    assert "Earn +42" in page
    assert "Adjustment -5 &rarr; 37 <em>goodwill fix</em>" in page


def _request_for(user):  # type: ignore[no-untyped-def]
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request
