"""Events that have ended move to "finished" by the hourly beat job; nothing else moves."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.events.models import Event
from campaigns.events.tasks import events_finish_task
from loyalty.core.periodic import REGISTRY
from tests.factories.events import EventFactory

pytestmark = pytest.mark.django_db


def test_published_events_that_ended_are_finished_once():
    now = timezone.now()
    ended = EventFactory(starts_at=now - timedelta(hours=3), ends_at=now - timedelta(hours=1))
    running = EventFactory(starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1))
    cancelled = EventFactory(
        starts_at=now - timedelta(days=2),
        ends_at=now - timedelta(days=1),
        status=Event.Status.CANCELLED,
    )
    draft = EventFactory(
        starts_at=now - timedelta(days=2),
        ends_at=now - timedelta(days=1),
        status=Event.Status.DRAFT,
    )

    assert events_finish_task() == 1
    assert events_finish_task() == 0  # safe to run again

    statuses = {e.pk: e.status for e in Event.objects.all()}
    assert statuses == {
        ended.pk: Event.Status.FINISHED,
        running.pk: Event.Status.PUBLISHED,
        cancelled.pk: Event.Status.CANCELLED,
        draft.pk: Event.Status.DRAFT,
    }


def test_the_job_is_scheduled_with_a_description():
    spec = next(s for s in REGISTRY.values() if s.task.endswith("events_finish_task"))
    assert spec.crontab == "5 * * * *" and "finished" in spec.description
