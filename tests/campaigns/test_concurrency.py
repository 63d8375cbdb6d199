"""Races on PostgreSQL: the budget is never exceeded, an action id counts once."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from campaigns.hooks import cache_clear
from campaigns.models import Campaign, CampaignAward
from campaigns.services import action_record
from loyalty.ledger.models import LedgerEntry
from tests.concurrency import run_threads
from tests.factories.campaigns import CampaignFactory, launch
from tests.factories.ledger import ProgrammeSettingsFactory, earn
from tests.factories.members import MemberFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
M = Campaign.Mechanic


def test_racing_purchases_never_exceed_the_budget():
    ProgrammeSettingsFactory()
    campaign = launch(
        CampaignFactory(
            mechanic=M.FIXED_BONUS,
            multiplier=None,
            bonus_points=100,
            min_spend=Decimal("1"),
            points_budget=350,
        )
    )
    members = [MemberFactory() for _ in range(8)]
    cache_clear()

    outcomes = run_threads(8, lambda i: earn(members[i], "10.00").points_earned)

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    campaign.refresh_from_db()
    assert campaign.points_awarded == 350
    awards = sorted(CampaignAward.objects.values_list("points", flat=True))
    assert awards == [50, 100, 100, 100]
    bonus = LedgerEntry.objects.filter(source_type="campaign").aggregate(total=Sum("amount"))
    assert bonus["total"] == 350


def test_the_same_action_from_many_threads_awards_once():
    ProgrammeSettingsFactory()
    launch(CampaignFactory(mechanic=M.ACTION, multiplier=None, action="share", bonus_points=5))
    member = MemberFactory()
    cache_clear()

    outcomes = run_threads(
        6, lambda i: action_record(member=member, kind="share", action_id="post-77").pk
    )

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert len({value for _, value in outcomes}) == 1
    assert CampaignAward.objects.count() == 1
    assert LedgerEntry.objects.filter(source_type="campaign").count() == 1


def test_racing_purchases_count_every_award_of_a_campaign_without_budget():
    """No budget: each award adds to points_awarded with one UPDATE (no row read first)."""
    ProgrammeSettingsFactory()
    campaign = launch(
        CampaignFactory(
            mechanic=M.FIXED_BONUS,
            multiplier=None,
            bonus_points=70,
            min_spend=Decimal("1"),
            points_budget=None,
        )
    )
    members = [MemberFactory() for _ in range(8)]
    cache_clear()

    outcomes = run_threads(8, lambda i: earn(members[i], "10.00").points_earned)

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    campaign.refresh_from_db()
    assert campaign.points_awarded == 8 * 70
    assert CampaignAward.objects.filter(campaign=campaign).aggregate(s=Sum("points"))["s"] == 560
