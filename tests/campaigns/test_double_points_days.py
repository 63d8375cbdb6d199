"""Double-points days: a multiplier on chosen weekdays or dates, the day taken in the programme
time zone (Tokyo here, UTC+9 all year, so a UTC evening is the next day there)."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignAward
from loyalty.ledger.models import PointsAccount
from tests.campaigns.test_admin import _inline, marketer  # noqa: F401 - fixture
from tests.factories.campaigns import CampaignFactory, launch
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tokyo(programme):
    programme.time_zone = "Asia/Tokyo"
    programme.save()
    return programme


def _long_campaign(**kwargs):
    now = timezone.now()
    return launch(
        CampaignFactory(
            multiplier=Decimal("2"),
            starts_at=now - timedelta(days=400),
            ends_at=now + timedelta(days=30),
            **kwargs,
        )
    )


def _balance(member):
    return PointsAccount.objects.get(member=member).balance


def test_every_tuesday_by_the_programme_day_not_the_utc_day(tokyo):
    _long_campaign(weekdays=[1])  # Tuesday
    today = timezone.now().date()
    monday = today - timedelta(days=today.weekday() + 7)  # a Monday one or two weeks ago
    member = MemberFactory()
    # Monday 14:00 UTC = Monday 23:00 in Tokyo: no bonus
    earn(member, "10.00", when=datetime.combine(monday, time(14, 0), UTC))
    assert _balance(member) == 10
    # Monday 20:00 UTC = Tuesday 05:00 in Tokyo: doubled
    earn(member, "10.00", when=datetime.combine(monday, time(20, 0), UTC))
    assert _balance(member) == 10 + 20
    # Tuesday 15:30 UTC = Wednesday 00:30 in Tokyo: no bonus
    earn(member, "10.00", when=datetime.combine(monday + timedelta(days=1), time(15, 30), UTC))
    assert _balance(member) == 10 + 20 + 10
    assert CampaignAward.objects.count() == 1


def test_on_11_11_every_year_and_either_weekdays_or_dates(tokyo):
    today = timezone.now().date()
    year = today.year if date(today.year, 11, 11) < today - timedelta(days=2) else today.year - 1
    eleven = date(year, 11, 11)
    other_weekday = (eleven.weekday() + 3) % 7  # a weekday that is not 11.11's nor 12.11's
    _long_campaign(dates=["11-11"], weekdays=[other_weekday])
    member = MemberFactory()
    # 10 Nov 15:30 UTC = 11 Nov 00:30 in Tokyo: doubled
    earn(member, "10.00", when=datetime.combine(eleven - timedelta(days=1), time(15, 30), UTC))
    assert _balance(member) == 20
    # 11 Nov 15:30 UTC = 12 Nov 00:30 in Tokyo: not 11.11 any more
    earn(member, "10.00", when=datetime.combine(eleven, time(15, 30), UTC))
    assert _balance(member) == 30
    # the ticked weekday also doubles (either one matches)
    weekday = eleven + timedelta(days=3)
    earn(member, "10.00", when=datetime.combine(weekday, time(3, 0), UTC))
    assert _balance(member) == 50


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"weekdays": [7]}, "weekdays"),
        ({"weekdays": ["tuesday"]}, "weekdays"),
        ({"dates": ["02-30"]}, "dates"),
        ({"dates": ["11.11"]}, "dates"),
        (
            {
                "mechanic": Campaign.Mechanic.NTH_PURCHASE,
                "bonus_points": 5,
                "purchase_number": 2,
                "weekdays": [1],
            },
            "weekdays",
        ),
    ],
)
def test_day_settings_are_validated(programme, changes, field):
    campaign = CampaignFactory.build(**changes)
    with pytest.raises(ValidationError) as error:
        campaign.full_clean()
    assert field in error.value.message_dict


def test_29_february_is_a_valid_date(programme):
    CampaignFactory.build(dates=["02-29"]).full_clean()


def test_admin_weekday_checkboxes_and_dates_typed_as_day_month(client, marketer):  # noqa: F811
    data = {
        "name": "Double Tuesdays",
        "mechanic": "multiplier",
        "starts_at_0": "2026-12-01",
        "starts_at_1": "00:00:00",
        "ends_at_0": "2027-12-01",
        "ends_at_1": "00:00:00",
        "priority": "100",
        "stacking": "combine",
        "holdout_percent": "0",
        "multiplier": "2",
        "cap_period": "campaign",
        "weekdays": ["1", "5"],
        "dates": "11.11, 24/12",
        **_inline("status_changes", []),
    }
    add = reverse("admin:campaigns_campaign_add")
    form = client.get(add).content.decode()
    assert 'type="checkbox" name="weekdays" value="1"' in form and "Tuesday" in form
    response = client.post(add, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get(name="Double Tuesdays")
    assert campaign.weekdays == [1, 5] and campaign.dates == ["11-11", "12-24"]
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert 'value="11.11, 24.12"' in page.content.decode()
    bad = client.post(add, {**data, "name": "Bad", "dates": "31.02"})
    assert bad.status_code == 200 and "is not a day of the year" in bad.content.decode()
    assert not Campaign.objects.filter(name="Bad").exists()


def test_campaign_list_says_what_each_campaign_gives(client, marketer):  # noqa: F811
    from tests.factories.rewards import RewardFactory

    CampaignFactory(name="Tuesdays", multiplier=Decimal("2"), weekdays=[1, 5], dates=["11-11"])
    CampaignFactory(
        name="Cake",
        mechanic=Campaign.Mechanic.BIRTHDAY,
        multiplier=None,
        reward=RewardFactory(name="Birthday cake"),
        birthday_window=Campaign.BirthdayWindow.MONTH,
    )
    page = client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    assert "x2.00 on Tuesday, Saturday, 11 Nov" in page
    assert "a voucher for Birthday cake (In the birthday month (from the 1st))" in page
