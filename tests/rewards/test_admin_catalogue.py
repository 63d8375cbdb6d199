"""#23.12: the reward form refuses a low-stock level above the stock, says the same thing about a
bad points cost wherever it is typed, and the list says when a reward can be redeemed in words."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from rewards.models import Reward
from tests.factories.rewards import RewardFactory

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
POINTS_COST_MESSAGE = "The points cost is a whole number from 1 to 100,000,000."


def reward_form(**overrides):
    data = {
        "code": "mug",
        "name": "Mug",
        "kind": Reward.Kind.GIFT,
        "points_cost": 100,
        "visibility": Reward.Visibility.PUBLIC,
        "voucher_valid_days": 30,
        "sort_order": 0,
        "active": "on",
    }
    return data | overrides


def errors_of(response, field):
    return [str(e) for e in response.context["adminform"].form.errors.get(field, [])]


def test_a_low_stock_level_above_the_stock_is_refused(admin_client, programme):
    response = admin_client.post(
        reverse("admin:rewards_reward_add"),
        reward_form(stock=10, low_stock_threshold=20),
    )
    assert response.status_code == 200
    assert errors_of(response, "low_stock_threshold") == [
        "The alert level (20) is above the stock (10): the alert would go off at once. "
        "Choose a level up to 10."
    ]
    assert not Reward.objects.exists()


def test_a_low_stock_level_without_counted_stock_is_refused(admin_client, programme):
    response = admin_client.post(
        reverse("admin:rewards_reward_add"), reward_form(low_stock_threshold=5)
    )
    assert response.status_code == 200
    assert "unlimited" in errors_of(response, "low_stock_threshold")[0]
    assert not Reward.objects.exists()


def test_a_level_at_or_below_the_stock_is_saved(admin_client, programme):
    response = admin_client.post(
        reverse("admin:rewards_reward_add"), reward_form(stock=10, low_stock_threshold=10)
    )
    assert response.status_code == 302
    assert Reward.objects.get(code="mug").low_stock_threshold == 10


def test_editing_other_fields_of_a_reward_that_ran_low_is_not_refused(admin_client, programme):
    """Redemptions take the stock below the level; renaming the reward must still save."""
    reward = RewardFactory(code="mug", stock=2, low_stock_threshold=5)
    response = admin_client.post(
        reverse("admin:rewards_reward_change", args=[reward.pk]),
        reward_form(name="Big mug", stock=2, low_stock_threshold=5),
    )
    assert response.status_code == 302, errors_of(response, "low_stock_threshold")
    reward.refresh_from_db()
    assert reward.name == "Big mug"


@pytest.mark.parametrize("typed", ["0", "-5", "100000001", "1.5", "many"])
def test_every_bad_points_cost_gets_the_same_message_in_the_form(admin_client, programme, typed):
    response = admin_client.post(
        reverse("admin:rewards_reward_add"), reward_form(points_cost=typed)
    )
    assert response.status_code == 200
    assert errors_of(response, "points_cost") == [POINTS_COST_MESSAGE]


def test_the_import_gives_the_same_points_cost_message(admin_client, programme):
    csv_text = (
        "code,name,kind,points_cost,visibility,voucher_valid_days,active,sort_order\n"
        "zero,Zero,gift,0,public,30,1,0\n"
    )
    response = admin_client.post(
        reverse("admin:rewards_reward_import"),
        {
            "import_file": SimpleUploadedFile("rewards.csv", csv_text.encode(), "text/csv"),
            "format": "0",
            "resource": "0",
        },
    )
    assert response.status_code == 200
    assert POINTS_COST_MESSAGE in response.content.decode()
    assert not Reward.objects.exists()


def test_the_list_says_when_each_reward_can_be_redeemed(admin_client, programme, monkeypatch):
    now = datetime(2026, 11, 20, 12, tzinfo=LONDON)
    monkeypatch.setattr(timezone, "now", lambda: now)
    RewardFactory(name="Always on")
    RewardFactory(name="Christmas", available_from=datetime(2026, 12, 1, tzinfo=LONDON))
    RewardFactory(
        name="Advent",
        available_from=datetime(2026, 12, 1, tzinfo=LONDON),
        available_until=datetime(2026, 12, 25, tzinfo=LONDON),
    )
    RewardFactory(name="Autumn", available_until=datetime(2026, 12, 1, tzinfo=LONDON))
    RewardFactory(
        name="Summer",
        available_from=datetime(2026, 6, 1, tzinfo=LONDON),
        available_until=datetime(2026, 9, 1, tzinfo=LONDON),
    )
    RewardFactory(name="Next year", available_from=datetime(2027, 2, 1, tzinfo=LONDON))
    RewardFactory(name="Since spring", available_from=now - timedelta(days=200))

    from django.contrib.admin.sites import site

    admin = site._registry[Reward]
    words = {r.name: admin.window(r) for r in Reward.objects.all()}

    assert words == {
        "Always on": "always",
        "Christmas": "from 1 Dec",
        "Advent": "from 1 Dec until 24 Dec",
        "Autumn": "until 30 Nov",
        "Summer": "ended 31 Aug",
        "Next year": "from 1 Feb 2027",
        "Since spring": "always",
    }
    page = admin_client.get(reverse("admin:rewards_reward_changelist")).content.decode()
    assert "from 1 Dec until 24 Dec" in page and "ended 31 Aug" in page
