from datetime import date

import pytest

from loyalty.core.periodic import REGISTRY
from loyalty.ledger import rules
from loyalty.tiers import hooks
from loyalty.tiers.selectors import tier_current_assignment
from loyalty.tiers.tasks import tier_period_end_evaluate_task
from tests.factories.members import MemberFactory
from tests.tiers.conftest import at


def test_tiers_plug_into_the_ledger_and_the_scheduler():
    assert hooks.tier_multiplier_contributor in rules.CONTRIBUTORS
    assert hooks.tier_upgrade_after_posting in rules.AFTER_POSTING_HOOKS
    spec = REGISTRY["Tier period end"]
    assert spec.task == "loyalty.tiers.tasks.tier_period_end_evaluate_task"
    assert spec.crontab == "40 0 * * *"


@pytest.mark.django_db
def test_nightly_task_runs_the_job(ladder, clock):
    member = MemberFactory()
    clock.set(at(date(2025, 5, 5)))

    summary = tier_period_end_evaluate_task.delay().get()

    assert summary["as_of"] == "2025-05-05"
    assert summary["entry_assigned"] == 1
    assert tier_current_assignment(member_id=member.pk).tier.code == "member"


@pytest.mark.django_db
def test_privacy_export_has_the_tier_history(ladder, clock):
    from members.services import member_privacy_export
    from tests.factories.ledger import earn

    member = MemberFactory()
    clock.set(at(date(2025, 3, 1)))
    earn(member, "20", when=clock.now)
    earn(member, "100", when=clock.now)

    data = member_privacy_export(member=member)

    assert [(h["tier"], h["reason"]) for h in data["tiers"]["history"]] == [
        ("member", "enrolment"),
        ("silver", "threshold"),
    ]


@pytest.mark.django_db
def test_merge_keeps_the_better_tier_until_the_next_period_end(ladder, clock, superuser):
    from members.services import member_merge
    from tests.factories.ledger import earn

    clock.set(at(date(2025, 3, 1)))
    survivor, duplicate = MemberFactory(), MemberFactory()
    earn(survivor, "20", when=clock.now)
    earn(duplicate, "600", when=clock.now)

    member_merge(source=duplicate, target=survivor, actor=superuser)

    row = tier_current_assignment(member_id=survivor.pk)
    assert (row.tier.code, row.reason, row.manual_until, row.previous_tier.code) == (
        "gold",
        "manual",
        date(2026, 1, 1),
        "member",
    )
    assert tier_current_assignment(member_id=duplicate.pk) is None


@pytest.mark.django_db
def test_merge_into_a_higher_tier_changes_nothing_for_the_survivor(ladder, clock, superuser):
    from members.services import member_merge
    from tests.factories.ledger import earn

    clock.set(at(date(2025, 3, 1)))
    survivor, duplicate = MemberFactory(), MemberFactory()
    earn(survivor, "600", when=clock.now)
    earn(duplicate, "150", when=clock.now)
    before = tier_current_assignment(member_id=survivor.pk)

    member_merge(source=duplicate, target=survivor, actor=superuser)

    assert tier_current_assignment(member_id=survivor.pk) == before
    assert tier_current_assignment(member_id=duplicate.pk) is None
