"""Birthday and win-back campaigns that give a catalogue reward as a voucher instead of points:
issued through rewards.services.voucher_gift (no points charged, stock taken), one birthday
voucher per member and year (29 February included), the reward's points cost counted against
the budget and never cut, a refused gift failing no purchase."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignAward
from campaigns.services import birthday_awards
from loyalty.ledger.models import LedgerEntry, NotificationOutbox, PointsAccount
from rewards.models import Reward, Voucher
from tests.campaigns.test_admin import _inline, marketer  # noqa: F401 - fixture
from tests.factories.campaigns import CampaignFactory, launch
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory

pytestmark = pytest.mark.django_db
M = Campaign.Mechanic


def _points(member):
    account = PointsAccount.objects.filter(member=member).first()
    return account.balance if account else 0


def _birthday_campaign(reward, **kwargs):
    return launch(
        CampaignFactory(
            mechanic=M.BIRTHDAY,
            multiplier=None,
            reward=reward,
            ends_at=timezone.now() + timedelta(days=800),
            **kwargs,
        )
    )


@pytest.fixture
def cake(programme):
    return RewardFactory(
        code="birthday-cake",
        name="Birthday cake",
        points_cost=100,
        stock=10,
        visibility=Reward.Visibility.HIDDEN,  # not for sale: only given
        voucher_valid_days=30,
    )


def test_birthday_voucher_no_points_stock_taken_once_a_year_29_february(cake):
    leapling = MemberFactory(birth_date=date(2000, 2, 29))
    other = MemberFactory(birth_date=date(2001, 3, 1))
    campaign = _birthday_campaign(cake)
    assert birthday_awards(day=date(2027, 2, 28)) == 1
    assert birthday_awards(day=date(2027, 2, 28)) == 0  # the job re-run: nothing new
    voucher = Voucher.objects.get(member=leapling)
    assert voucher.reward == cake and voucher.gift_reward == cake and voucher.member_bound
    assert voucher.redemption is None and voucher.status == Voucher.Status.ISSUED
    assert _points(leapling) == 0  # no points charged, none given
    assert not LedgerEntry.objects.filter(account__member=leapling).exists()
    assert not Voucher.objects.filter(member=other).exists()
    cake.refresh_from_db()
    campaign.refresh_from_db()
    assert cake.stock == 9 and campaign.points_awarded == 100  # the budget counts the cost
    award = CampaignAward.objects.get()
    assert award.voucher == voucher and award.entry is None and award.points == 100
    greeting = NotificationOutbox.objects.get(kind="birthday", member=leapling)
    assert greeting.payload["voucher"] == voucher.display_code
    assert greeting.payload["reward"] == "Birthday cake"
    # a leap year: on the 29th, not the 28th; a new year, a new voucher
    assert birthday_awards(day=date(2028, 2, 28)) == 0
    assert birthday_awards(day=date(2028, 2, 29)) == 1
    assert Voucher.objects.filter(member=leapling).count() == 2


def test_budget_counts_the_reward_cost_and_is_never_exceeded(cake):
    members = [MemberFactory(birth_date=date(1990, 6, 15)) for _ in range(3)]
    campaign = _birthday_campaign(cake, points_budget=250)
    assert birthday_awards(day=date(2027, 6, 15)) == 2  # 2 x 100; 50 left is no voucher
    campaign.refresh_from_db()
    cake.refresh_from_db()
    assert campaign.points_awarded == 200 and cake.stock == 8
    assert Voucher.objects.filter(member__in=members).count() == 2


def test_out_of_stock_gives_nothing_and_fails_no_purchase(programme):
    reward = RewardFactory(points_cost=50, stock=1)
    launch(CampaignFactory(mechanic=M.WIN_BACK, multiplier=None, reward=reward, lapsed_days=90))
    first, second = MemberFactory(), MemberFactory()
    for member in (first, second):
        earn(member, "10.00", when=timezone.now() - timedelta(days=200))
    earn(first, "10.00")
    result = earn(second, "10.00")  # the reward is out of stock now: the purchase still counts
    assert result.points_earned == 10 and _points(second) == 20
    assert Voucher.objects.filter(member=first).count() == 1
    assert not Voucher.objects.filter(member=second).exists()
    assert CampaignAward.objects.count() == 1


def test_win_back_voucher_on_the_returning_purchase_only(programme):
    reward = RewardFactory(points_cost=300, stock=None)
    launch(CampaignFactory(mechanic=M.WIN_BACK, multiplier=None, reward=reward, lapsed_days=90))
    lapsed, active = MemberFactory(), MemberFactory()
    earn(lapsed, "10.00", when=timezone.now() - timedelta(days=200))
    earn(active, "10.00", when=timezone.now() - timedelta(days=10))
    earn(lapsed, "20.00")
    earn(lapsed, "20.00")
    earn(active, "20.00")
    assert _points(lapsed) == 50 and _points(active) == 30  # purchase points only
    voucher = Voucher.objects.get(member=lapsed)
    assert voucher.gift_reward == reward and voucher.redemption is None
    assert not Voucher.objects.filter(member=active).exists()


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"mechanic": M.BIRTHDAY, "bonus_points": None}, "reward"),  # neither
        ({"mechanic": M.BIRTHDAY, "bonus_points": 50, "with_reward": True}, "reward"),  # both
        ({"mechanic": M.WIN_BACK, "lapsed_days": 90, "bonus_points": None}, "bonus_points"),
        ({"mechanic": M.MULTIPLIER, "multiplier": 2, "with_reward": True}, "reward"),
    ],
)
def test_points_or_a_voucher_validated(cake, settings, field):
    settings = dict(settings)
    reward = cake if settings.pop("with_reward", False) else None
    campaign = CampaignFactory.build(
        **{"multiplier": None, **settings}, reward=reward, starts_at=timezone.now()
    )
    with pytest.raises(ValidationError) as error:
        campaign.full_clean()
    assert field in error.value.message_dict


def test_admin_offers_a_reward_picker(client, marketer, cake):  # noqa: F811
    add = reverse("admin:campaigns_campaign_add")
    form = client.get(add).content.decode()
    assert '<select name="reward"' in form and ">Birthday cake</option>" in form
    data = {
        "name": "Birthday cake 2027",
        "mechanic": "birthday",
        "starts_at_0": "2027-01-01",
        "starts_at_1": "00:00:00",
        "ends_at_0": "2028-01-01",
        "ends_at_1": "00:00:00",
        "priority": "100",
        "stacking": "combine",
        "holdout_percent": "10",
        "cap_period": "campaign",
        "reward": str(cake.pk),
        **_inline("status_changes", []),
    }
    response = client.post(add, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Campaign.objects.get(name="Birthday cake 2027").reward == cake
    both = client.post(add, {**data, "name": "Both", "bonus_points": "100"})
    assert both.status_code == 200 and "not both" in both.content.decode()


def test_birthday_week_and_month_once_a_year_across_new_year(cake):
    """A week from Monday 28 Dec 2026 holds 2 Jan 2027: the gift is given on the Monday and
    counted for the 2027 birthday, so the job on 2 Jan gives nothing more."""
    january = MemberFactory(birth_date=date(1990, 1, 2))
    later = MemberFactory(birth_date=date(1990, 1, 20))
    week = _birthday_campaign(cake, birthday_window=Campaign.BirthdayWindow.WEEK)
    assert birthday_awards(day=date(2026, 12, 28)) == 1
    assert birthday_awards(day=date(2027, 1, 2)) == 0
    assert CampaignAward.objects.get(campaign=week).source == f"birthday:2027:{january.pk}"
    week.status = Campaign.Status.ENDED  # only the month campaign from here on
    week.save(update_fields=["status"])
    from campaigns.cache import campaign_stamp_bump

    campaign_stamp_bump()
    month = launch(
        CampaignFactory(
            mechanic=M.BIRTHDAY,
            multiplier=None,
            bonus_points=25,
            birthday_window=Campaign.BirthdayWindow.MONTH,
            ends_at=timezone.now() + timedelta(days=800),
        )
    )
    assert birthday_awards(day=date(2027, 1, 1)) == 2  # both January birthdays on the 1st
    assert birthday_awards(day=date(2027, 1, 15)) == 0
    assert _points(january) == 25 and _points(later) == 25
    assert CampaignAward.objects.filter(campaign=month).count() == 2
