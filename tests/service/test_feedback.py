"""Feedback and complaints: lifecycle, goodwill points through the ledger (and reconcile), the
database rules, and the figures analytics reads."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.service.exceptions import (
    FeedbackStatusInvalid,
    GoodwillAlreadyGranted,
    GoodwillNotAllowed,
)
from campaigns.service.models import Feedback
from campaigns.service.selectors import complaints_open, feedback_age, feedback_stats
from campaigns.service.services import (
    feedback_create,
    feedback_goodwill_grant,
    feedback_resolve,
    feedback_status_set,
)
from loyalty.core.roles import roles_setup
from loyalty.ledger.models import LedgerEntry
from loyalty.ledger.selectors import account_balance, ledger_adjustment_list
from loyalty.ledger.services import ledger_reconcile, points_earn
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.factories.service import FeedbackFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(db: Any) -> Any:
    ProgrammeSettingsFactory()
    return MemberFactory(first_name="Carla", last_name="Cross")


@pytest.fixture
def agent(django_user_model: Any) -> Any:
    roles_setup()
    user = django_user_model.objects.create_user(username="agent", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Customer service"))
    return django_user_model.objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def marketer(django_user_model: Any) -> Any:
    roles_setup()
    user = django_user_model.objects.create_user(username="mark", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Marketing"))
    return django_user_model.objects.get(pk=user.pk)


def test_feedback_lifecycle_open_in_progress_resolved_and_reopened(member: Any, agent: Any):
    feedback = feedback_create(
        member=member,
        channel=Feedback.Channel.PHONE,
        category=Feedback.Category.STORE,
        text="  The till refused my voucher.  ",
        score=3,
        actor=agent,
    )
    assert (feedback.status, feedback.text, feedback.created_by) == (
        "open",
        "The till refused my voucher.",
        agent,
    )
    assert list(complaints_open()) == [feedback]

    taken = feedback_status_set(feedback=feedback, status="in_progress", actor=agent)
    assert taken.owner == agent  # whoever takes it on owns it

    with pytest.raises(ValidationError) as refused:
        feedback_status_set(feedback=taken, status="resolved", actor=agent)
    assert "resolution" in refused.value.message_dict
    assert Feedback.objects.get(pk=feedback.pk).status == "in_progress"

    done = feedback_resolve(feedback=taken, resolution="Apologised, voucher honoured.", actor=agent)
    assert (done.status, done.resolved_by, done.resolution) == (
        "resolved",
        agent,
        "Apologised, voucher honoured.",
    )
    assert done.resolved_at is not None
    assert list(complaints_open()) == []

    with pytest.raises(FeedbackStatusInvalid):
        feedback_status_set(feedback=done, status="in_progress", actor=agent)

    reopened = feedback_status_set(feedback=done, status="open", actor=agent)
    assert (reopened.status, reopened.resolved_at, reopened.resolved_by) == ("open", None, None)
    assert list(complaints_open()) == [reopened]


def test_bad_feedback_is_refused_field_by_field_and_nothing_is_saved(member: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        feedback_create(member=member, channel="fax", category="weather", text=" ", score=11)
    assert set(refused.value.message_dict) >= {"channel", "category", "text", "score"}
    with pytest.raises(ValidationError) as future:
        feedback_create(
            member=member,
            channel="phone",
            category="store",
            text="x",
            received_at=timezone.now() + timedelta(days=1),
        )
    assert "received_at" in future.value.message_dict
    assert not Feedback.objects.exists()


def test_the_database_refuses_a_resolved_complaint_without_resolution(member: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Feedback.objects.create(
            member=member, channel="phone", category="store", text="x", status="resolved"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Feedback.objects.create(
            member=member, channel="phone", category="store", text="x", score=11
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Feedback.objects.create(
            member=member, channel="phone", category="store", text="x", goodwill_points=5
        )


def test_goodwill_points_go_through_the_ledger_once_with_the_complaint_as_reason(
    member: Any, agent: Any
) -> None:
    points_earn(member=member, points=40, idempotency_key="seed")
    feedback = FeedbackFactory(member=member, category="product")

    granted = feedback_goodwill_grant(feedback=feedback, points=250, actor=agent)

    entry = granted.goodwill_entry
    assert entry is not None and granted.goodwill_points == 250
    assert (entry.kind, entry.amount, entry.source_type, entry.source_id, entry.created_by) == (
        LedgerEntry.Kind.ADJUST,
        250,
        "feedback",
        str(feedback.pk),
        agent,
    )
    assert entry.reason == f"Goodwill for complaint #{feedback.pk} (product)"
    assert account_balance(member=member).available == 290
    assert list(ledger_adjustment_list(member=member)) == [entry]  # staff change, listed
    assert ledger_reconcile() == []  # balance = entries = lots

    with pytest.raises(GoodwillAlreadyGranted):
        feedback_goodwill_grant(feedback=feedback, points=250, actor=agent)
    assert account_balance(member=member).available == 290
    assert LedgerEntry.objects.filter(kind="adjust").count() == 1


def test_only_a_role_that_may_grant_goodwill_can(member: Any, marketer: Any) -> None:
    feedback = FeedbackFactory(member=member)
    with pytest.raises(GoodwillNotAllowed):
        feedback_goodwill_grant(feedback=feedback, points=100, actor=marketer)
    with pytest.raises(GoodwillNotAllowed):
        feedback_goodwill_grant(feedback=feedback, points=100, actor=None)
    assert not LedgerEntry.objects.filter(kind="adjust").exists()
    assert Feedback.objects.get(pk=feedback.pk).goodwill_entry is None


def test_resolving_with_goodwill_does_both_or_neither(member: Any, agent: Any) -> None:
    feedback = FeedbackFactory(member=member)
    # no resolution: the goodwill is rolled back too
    with pytest.raises(ValidationError), transaction.atomic():
        feedback_resolve(feedback=feedback, resolution="", actor=agent, goodwill_points=100)
    assert not LedgerEntry.objects.filter(kind="adjust").exists()

    done = feedback_resolve(feedback=feedback, resolution="Sorry", actor=agent, goodwill_points=100)
    assert (done.status, done.goodwill_points) == ("resolved", 100)
    assert account_balance(member=member).available == 100


def test_figures_for_analytics_counts_and_resolution_time(member: Any, agent: Any) -> None:
    start = timezone.now() - timedelta(days=10)
    received = start + timedelta(days=1)
    slow = FeedbackFactory(member=member, received_at=received, score=2)
    feedback_resolve(
        feedback=slow, resolution="Refunded", actor=agent, now=received + timedelta(hours=48)
    )
    quick = FeedbackFactory(member=member, received_at=received, category="product", score=10)
    feedback_resolve(
        feedback=quick, resolution="Replaced", actor=agent, now=received + timedelta(hours=2)
    )
    FeedbackFactory(member=member, received_at=received, kind="compliment", score=9)
    FeedbackFactory(member=member, received_at=received)  # still open
    FeedbackFactory(member=member, received_at=start - timedelta(days=1))  # before the period

    stats = feedback_stats(start=start, end=timezone.now())

    assert (stats.received, stats.complaints, stats.resolved) == (4, 3, 2)
    assert stats.by_kind == {"complaint": 3, "compliment": 1}
    assert stats.by_category == {"store": 3, "product": 1}
    assert stats.by_channel == {"phone": 4}
    assert stats.open_complaints == 2  # the open one in the period and the older one
    assert (stats.resolution_hours_avg, stats.resolution_hours_max) == (25.0, 48.0)
    assert (stats.scores, stats.promoters, stats.detractors) == (3, 2, 1)
    assert feedback_age(Feedback.objects.get(pk=slow.pk)) == timedelta(hours=48)
