"""The member page shows donations to causes beside sustainability actions (recycling, own
cup), with their points; other actions (reviews) stay out of it."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.services import action_record
from loyalty.backoffice.selectors import member_giving
from loyalty.ledger.services import points_earn
from rewards.models import Cause, Reward
from rewards.services import redemption_create
from tests.factories.campaigns import CampaignFactory, launch
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.factories.rewards import CauseFactory, RewardFactory, RewardsSettingsFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def giver(db):
    ProgrammeSettingsFactory()
    RewardsSettingsFactory()
    member = MemberFactory()
    points_earn(member=member, points=1000, idempotency_key="seed")
    launch(
        CampaignFactory(
            mechanic=Campaign.Mechanic.ACTION, multiplier=None, action="own_cup", bonus_points=5
        )
    )
    give = RewardFactory(code="give", kind=Reward.Kind.DONATION, points_cost=100)
    trees = CauseFactory(code="trees", name="Trees for Cities", matching=Cause.Matching.SAME)
    redemption_create(member=member, reward=give, cause=trees, quantity=2)
    action_record(member=member, kind="own_cup", action_id="cup-1")
    action_record(member=member, kind="recycling", action_id="bottle-1")
    action_record(member=member, kind="review", action_id="review-1")
    return member


def test_giving_card_counts_donations_and_green_actions(giver):
    card = member_giving(member=giver)
    assert (card.donated_points, card.brand_matched_points) == (200, 200)
    assert [d.cause.code for d in card.donations] == ["trees", "trees"]
    assert card.actions_count == 2  # the review is not a sustainability action
    assert card.actions_points == 5
    assert {a.kind for a in card.actions} == {"own_cup", "recycling"}


def test_the_member_page_shows_them_together(admin_client, giver):
    page = admin_client.get(reverse("admin:members_member_story", args=[giver.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "200 points given to causes (the brand added 200)." in html
    assert "points to Trees for Cities" in html
    assert "2 sustainability actions (5 points)." in html
    assert "Brought their own cup (+5)" in html


def test_a_member_who_gave_nothing(admin_client, db):
    ProgrammeSettingsFactory()
    member = MemberFactory()
    html = admin_client.get(reverse("admin:members_member_story", args=[member.pk])).content
    assert b"No donations yet." in html and b"No recycling or own-cup actions yet." in html
