"""At the till: a donation reward tied to a cause gives the points with no voucher; one whose
cause the member must choose is refused in words (the till has no cause picker)."""

import pytest

from rewards.models import Donation, Redemption, Reward
from tests.clerk.test_actions import TOKEN, available, follow, text, url
from tests.factories.rewards import CauseFactory, RewardFactory

pytestmark = pytest.mark.django_db


def test_a_donation_for_a_set_cause_shows_no_voucher(clerk, funded):
    trees = CauseFactory(code="trees", name="Trees for Cities")
    reward = RewardFactory(kind=Reward.Kind.DONATION, cause=trees, points_cost=100)
    response = clerk.post(url("redeem", funded), {"reward": reward.pk, "token": TOKEN})
    page = text(follow(clerk, response))
    assert "to “Trees for Cities”. No voucher" in page
    assert Donation.objects.get().points == 100
    assert available(funded) == 900


def test_a_donation_needing_a_choice_is_refused_in_words(clerk, funded):
    CauseFactory(code="trees")
    reward = RewardFactory(kind=Reward.Kind.DONATION, points_cost=100)
    response = clerk.post(url("redeem", funded), {"reward": reward.pk, "token": TOKEN})
    assert response.status_code == 400
    assert "Choose the cause the points go to." in text(response)
    assert not Redemption.objects.exists()
