"""Celery tasks are thin, idempotent, and registered with beat."""

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.core.periodic import REGISTRY
from loyalty.ledger import tasks
from loyalty.ledger.models import LedgerEntry, NotificationOutbox
from loyalty.ledger.services import points_earn

pytestmark = pytest.mark.django_db


def test_ledger_schedules_are_registered_with_a_description():
    ledger = {spec.task: spec for spec in REGISTRY.values() if ".ledger." in spec.task}

    assert set(ledger) == {
        "loyalty.ledger.tasks.points_expire_due_task",
        "loyalty.ledger.tasks.points_release_pending_task",
        "loyalty.ledger.tasks.points_expiry_warn_task",
        "loyalty.ledger.tasks.ledger_reconcile_task",
        "loyalty.ledger.tasks.purchase_stats_rebuild_task",
    }
    assert all(spec.description and len(spec.crontab.split()) == 5 for spec in ledger.values())


def test_tasks_run_the_services_and_are_safe_to_run_again(programme, member):
    points_earn(
        member=member,
        points=9,
        idempotency_key="stale",
        occurred_at=timezone.now() - timedelta(days=400),
    )
    points_earn(
        member=member,
        points=4,
        idempotency_key="soon",
        occurred_at=timezone.now() - timedelta(days=350),
    )

    assert tasks.points_expire_due_task.delay().get() == 9
    assert tasks.points_expire_due_task.delay().get() == 0
    assert tasks.points_expiry_warn_task.delay().get() == 1
    assert tasks.points_expiry_warn_task.delay().get() == 0
    assert tasks.ledger_reconcile_task.delay().get() == 0
    assert LedgerEntry.objects.filter(kind="expire").count() == 1
    assert NotificationOutbox.objects.get().kind == "points_expiring"
