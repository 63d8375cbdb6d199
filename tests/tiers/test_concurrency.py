"""Races on PostgreSQL: one current tier per member, one gift, whoever writes first."""

from datetime import date

import pytest

from loyalty.ledger.models import LedgerEntry
from loyalty.ledger.services import points_earn
from loyalty.tiers.models import TierAssignment
from loyalty.tiers.services import tier_evaluate_member, tier_period_end_evaluate
from tests.concurrency import run_threads
from tests.factories.ledger import ProgrammeSettingsFactory, earn
from tests.factories.members import MemberFactory
from tests.factories.tiers import TierPolicyFactory, standard_ladder

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def setup():
    ProgrammeSettingsFactory(pending_days=0)
    TierPolicyFactory()
    return standard_ladder()


def test_concurrent_evaluations_of_a_member_without_a_tier_make_one_current_row(setup):
    member = MemberFactory()
    points_earn(member=member, points=150, idempotency_key="seed", kind="earn")

    outcomes = run_threads(8, lambda i: tier_evaluate_member(member=member).tier.code)

    assert outcomes == [("ok", "silver")] * 8
    assert TierAssignment.objects.filter(member=member, valid_to__isnull=True).count() == 1
    assert LedgerEntry.objects.filter(source_type="tier_gift").count() == 1


def test_concurrent_purchases_crossing_thresholds_upgrade_once_each(setup):
    member = MemberFactory()

    outcomes = run_threads(6, lambda i: earn(member, "100.00").points_earned)

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    current = TierAssignment.objects.filter(member=member, valid_to__isnull=True)
    assert current.count() == 1
    gifts = LedgerEntry.objects.filter(source_type="tier_gift").order_by("amount")
    assert list(gifts.values_list("amount", flat=True)) == [50, 200]  # Silver, Gold once each
    assert current.get().tier.code == "gold"


def test_period_end_job_and_purchases_racing_keep_one_current_row(setup):
    members = [MemberFactory() for _ in range(5)]

    def work(index):
        if index == 0:
            return tier_period_end_evaluate(as_of=date.today()).entry_assigned
        return earn(members[index], "120.00").points_earned

    outcomes = run_threads(5, work)

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    for member in members:
        assert TierAssignment.objects.filter(member=member, valid_to__isnull=True).count() == 1
    assert {
        m.pk: TierAssignment.objects.get(member=m, valid_to__isnull=True).tier.code
        for m in members[1:]
    } == {m.pk: "silver" for m in members[1:]}
