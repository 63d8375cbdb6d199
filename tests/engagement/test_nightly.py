"""The nightly job: its beat schedule, its Celery task and its command (progress and JSON)."""

import io
import json

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from campaigns.engagement.models import MemberBadge, MemberStage
from campaigns.engagement.tasks import engagement_nightly_task
from tests.factories.engagement import BadgeRuleFactory
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


def test_beat_schedule_is_registered_with_words(settings_row):
    call_command("setup_periodic_tasks", stdout=io.StringIO())
    task = PeriodicTask.objects.get(name="Engagement nightly catch-up")
    assert task.task == "campaigns.engagement.tasks.engagement_nightly_task"
    assert task.crontab.hour == "1" and task.crontab.minute == "40"
    assert "streaks" in task.description


def test_task_is_idempotent(settings_row):
    member = MemberFactory()
    earn(member)
    rule = BadgeRuleFactory(kind="first_purchase", threshold=1)  # added after the purchase
    first = engagement_nightly_task()
    second = engagement_nightly_task()
    assert first["badges_awarded"] == 1 and second["badges_awarded"] == 0
    assert second["stages_changed"] == 0
    assert MemberBadge.objects.filter(member=member, rule=rule).count() == 1


def test_command_prints_a_summary_and_json(settings_row):
    MemberFactory()
    out = io.StringIO()
    call_command("engagement_nightly", stdout=out)
    assert "1 members" in out.getvalue() and "prospect: 1" in out.getvalue()
    out = io.StringIO()
    call_command("engagement_nightly", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["members"] == 1 and data["stage_counts"] == {"prospect": 1}
    assert set(data["seconds"]) == {"streaks", "stages", "badges", "counts", "vip"}
    assert MemberStage.objects.get().stage == "prospect"


def test_privacy_export_has_an_engagement_section(settings_row):
    from members.services import member_privacy_export

    BadgeRuleFactory(name="First visit", kind="first_purchase", threshold=1)
    member = MemberFactory()
    earn(member)
    section = member_privacy_export(member=member)["engagement"]
    assert [b["badge"] for b in section["badges"]] == ["First visit"]
    assert [s["to"] for s in section["stage_history"]] == ["new"]
    assert section["streak"]["current"] == 1


def test_nightly_is_set_based_its_statements_do_not_grow_with_members(settings_row):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns.engagement.services import engagement_nightly

    BadgeRuleFactory(kind="first_purchase", threshold=1)
    BadgeRuleFactory(kind="purchases", threshold=2)

    def statements() -> int:
        with CaptureQueriesContext(connection) as ctx:
            engagement_nightly()
        return len(ctx.captured_queries)

    for _ in range(2):
        earn(MemberFactory())
    statements()  # first run: stage rows and badges for the two members
    few = statements()  # steady state
    for _ in range(8):
        earn(MemberFactory())
    statements()
    many = statements()
    assert few == many
