"""Feedback in the admin, posted the way a browser does: record, resolve with goodwill (only for
the role that may), refused input, the open complaints with their age, the member page."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.service.models import Feedback
from loyalty.core.roles import roles_setup
from loyalty.ledger.models import LedgerEntry
from loyalty.ledger.selectors import account_balance
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.factories.service import FeedbackFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(db: Any) -> Any:
    ProgrammeSettingsFactory()
    return MemberFactory(first_name="Carla", last_name="Cross")


def login(django_user_model: Any, username: str, role: str) -> tuple[Client, Any]:
    roles_setup()
    user = django_user_model.objects.create_user(username=username, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client, user


def change_data(feedback: Feedback, **extra: Any) -> dict[str, Any]:
    return {
        "status": feedback.status,
        "owner": feedback.owner_id or "",
        "resolution": feedback.resolution,
        **extra,
    }


def test_service_staff_record_a_complaint_in_the_admin(member: Any, django_user_model: Any) -> None:
    client, agent = login(django_user_model, "agent", "Customer service")
    page = client.get(reverse("admin:service_feedback_add"))
    assert page.status_code == 200
    assert b"Give goodwill points" not in page.content  # only once it exists
    now = timezone.localtime()
    response = client.post(
        reverse("admin:service_feedback_add"),
        {
            "member": member.pk,
            "kind": "complaint",
            "channel": "phone",
            "category": "store",
            "store": "",
            "text": "Rude at the till.",
            "score": "2",
            "received_at_0": now.strftime("%Y-%m-%d"),
            "received_at_1": now.strftime("%H:%M:%S"),
            "owner": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    feedback = Feedback.objects.get()
    assert (feedback.text, feedback.created_by, feedback.status, feedback.score) == (
        "Rude at the till.",
        agent,
        "open",
        2,
    )


def test_resolving_with_goodwill_points_from_the_admin(member: Any, django_user_model: Any):
    client, agent = login(django_user_model, "agent", "Customer service")
    feedback = FeedbackFactory(member=member)
    url = reverse("admin:service_feedback_change", args=[feedback.pk])
    assert b"Give goodwill points" in client.get(url).content

    refused = client.post(url, change_data(feedback, status="resolved", grant_points="150"))
    assert refused.status_code == 200  # no resolution: the form says so, nothing happens
    assert "resolution" in refused.context["adminform"].form.errors
    assert not LedgerEntry.objects.filter(kind="adjust").exists()

    done = client.post(
        url,
        change_data(
            feedback, status="resolved", resolution="Apologised by phone.", grant_points="150"
        ),
    )
    assert done.status_code == 302
    feedback.refresh_from_db()
    assert (feedback.status, feedback.resolved_by, feedback.goodwill_points) == (
        "resolved",
        agent,
        150,
    )
    assert feedback.goodwill_entry.created_by == agent  # type: ignore[union-attr]
    assert account_balance(member=member).available == 150
    page = client.get(url).content
    assert b"Give goodwill points" not in page  # given once
    assert b"+150 points" in page


def test_marketing_may_handle_feedback_but_not_grant_goodwill(
    member: Any, django_user_model: Any
) -> None:
    client, _user = login(django_user_model, "mark", "Marketing")
    feedback = FeedbackFactory(member=member)
    url = reverse("admin:service_feedback_change", args=[feedback.pk])
    assert b"Give goodwill points" not in client.get(url).content
    response = client.post(url, change_data(feedback, status="in_progress", grant_points="500"))
    assert response.status_code == 302
    feedback.refresh_from_db()
    assert feedback.status == "in_progress" and feedback.goodwill_points == 0
    assert not LedgerEntry.objects.filter(kind="adjust").exists()


def test_open_complaints_list_oldest_first_with_their_age(
    member: Any, django_user_model: Any
) -> None:
    client, _user = login(django_user_model, "agent", "Customer service")
    now = timezone.now()
    FeedbackFactory(member=member, received_at=now - timedelta(days=3), text="Oldest one")
    FeedbackFactory(member=member, received_at=now - timedelta(hours=5), text="Newer one")
    FeedbackFactory(member=member, kind="compliment", text="Lovely staff")
    done = FeedbackFactory(member=member, text="Solved one")
    Feedback.objects.filter(pk=done.pk).update(status="resolved", resolution="ok", resolved_at=now)

    page = client.get(reverse("admin:service_opencomplaint_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("Oldest one") < html.index("Newer one")
    assert "3 days" in html and "5 hours" in html
    assert "Lovely staff" not in html and "Solved one" not in html


def test_the_member_page_shows_their_feedback(member: Any, django_user_model: Any) -> None:
    client, _user = login(django_user_model, "agent", "Customer service")
    FeedbackFactory(member=member, text="Voucher refused at the till")
    page = client.get(reverse("admin:members_member_change", args=[member.pk]))
    assert page.status_code == 200
    assert b"Voucher refused at the till" in page.content
    assert b"Feedback and complaints" in page.content
