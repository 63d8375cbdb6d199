"""The club's benefits through the lower apps' extension points: the points multiplier on
purchases (also in bulk imports), the reward discount, members-only rewards; none of them
after the grace period or a cancellation."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from campaigns.membership.hooks import ClubBulkSimulator
from campaigns.membership.services import club_membership_cancel
from loyalty.ledger.services import points_earn
from rewards.exceptions import RewardNotEligible
from rewards.models import Redemption, Reward
from rewards.selectors import reward_catalogue_for_member
from rewards.services import redemption_create
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.factories.membership import ClubPlanFactory, joined
from tests.factories.rewards import CauseFactory, RewardFactory
from tests.membership.conftest import LONDON

pytestmark = pytest.mark.django_db


def test_members_earn_the_plans_multiplier_and_the_entry_says_why(clock, member, plan):
    outsider = MemberFactory()
    joined(member, plan)

    assert earn(outsider, "100.00").points_earned == 100
    result = earn(member, "100.00")

    assert result.points_earned == 150
    assert {"source": "club:plus", "name": "Plus club (paid club)", "multiplier": "1.50"} in (
        result.rules
    )


def test_the_multiplier_holds_in_grace_and_stops_after_it_or_on_cancelling(clock, member, plan):
    membership = joined(member, plan)
    clock.at(2027, 1, 23, 20, 0)  # last day of grace
    assert earn(member, "10.00").points_earned == 15
    clock.at(2027, 1, 24, 8, 0)  # grace over
    assert earn(member, "10.00").points_earned == 10

    other = MemberFactory()
    second = joined(other, ClubPlanFactory(code="two"))
    clock.at(2027, 2, 1, 9, 0)
    club_membership_cancel(membership=second, reason="asked")
    assert earn(other, "10.00").points_earned == 10
    assert membership.pk != second.pk


def test_a_purchase_dated_inside_the_term_earns_the_multiplier_when_reported_later(
    clock, member, plan
):
    joined(member, plan)
    club_membership_cancel(membership=joined(MemberFactory(), plan), reason="x")
    clock.at(2026, 6, 1, 9, 0)
    before_joining = datetime(2026, 1, 9, 12, 0, tzinfo=LONDON)
    assert earn(member, "10.00", when=before_joining).points_earned == 10
    assert earn(member, "10.00", when=datetime(2026, 3, 1, tzinfo=LONDON)).points_earned == 15


def test_the_bulk_simulator_gives_what_the_contributor_gives(clock, member, plan):
    membership = joined(member, plan)
    simulator = ClubBulkSimulator(members={member.pk: member.enrolled_at}, now=clock.now)
    inside = datetime(2026, 6, 1, tzinfo=LONDON)
    (contribution,) = simulator.contributions(member.pk, occurred_at=inside)
    assert (contribution.source, contribution.multiplier) == ("club:plus", Decimal("1.5"))
    assert simulator.contributions(member.pk, occurred_at=inside - timedelta(days=200)) == []
    after_grace = datetime(2027, 1, 24, 0, 0, tzinfo=LONDON)
    assert simulator.contributions(member.pk, occurred_at=after_grace) == []
    assert simulator.contributions(MemberFactory().pk, occurred_at=inside) == []
    assert membership.plan == plan


def test_members_pay_the_discounted_price_rounded_in_their_favour(clock, member, plan):
    points_earn(member=member, points=1000, idempotency_key="seed")
    reward = RewardFactory(code="tote", points_cost=255)
    joined(member, plan)  # 10% off: 25.5 off, 25 after rounding down the discount

    redemption = redemption_create(member=member, reward=reward)

    assert (redemption.points, redemption.list_points) == (230, 255)
    assert redemption.discount_source == "club:plus"
    assert redemption.ledger_entry.amount == -230
    (item,) = reward_catalogue_for_member(member=member)
    assert (item.points, item.discount_source) == (230, "club:plus")


def test_donations_are_never_discounted(clock, member, plan):
    points_earn(member=member, points=1000, idempotency_key="seed")
    joined(member, plan)
    donation = RewardFactory(code="give", kind=Reward.Kind.DONATION, points_cost=100)
    redemption = redemption_create(member=member, reward=donation, cause=CauseFactory())
    assert (redemption.points, redemption.list_points) == (100, None)


def test_after_the_membership_the_catalogue_price_applies_again(clock, member, plan):
    points_earn(member=member, points=1000, idempotency_key="seed")
    reward = RewardFactory(code="tote", points_cost=200)
    membership = joined(member, plan)
    club_membership_cancel(membership=membership, reason="asked")
    assert redemption_create(member=member, reward=reward).points == 200


def test_members_only_rewards_are_for_members_of_the_plan(clock, member, plan):
    points_earn(member=member, points=1000, idempotency_key="seed")
    outsider = MemberFactory()
    points_earn(member=outsider, points=1000, idempotency_key="seed")
    lounge = RewardFactory(code="lounge", points_cost=100)
    plan.exclusive_rewards.add(lounge)
    joined(member, plan)

    assert "lounge" not in {i.reward.code for i in reward_catalogue_for_member(member=outsider)}
    with pytest.raises(RewardNotEligible):
        redemption_create(member=outsider, reward=lounge)
    assert not Redemption.objects.filter(member=outsider).exists()

    assert "lounge" in {i.reward.code for i in reward_catalogue_for_member(member=member)}
    assert redemption_create(member=member, reward=lounge).points == 90
