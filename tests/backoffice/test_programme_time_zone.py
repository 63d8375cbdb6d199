"""Staff read and type dates and times in the programme's time zone and their own language
(loyalty.ledger.timezones.ProgrammeTimeZoneMiddleware); the API keeps ISO 8601 with an offset."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from campaigns.models import Campaign
from members.models import StaffProfile
from tests.factories.campaigns import SegmentFactory
from tests.factories.ledger import ProgrammeSettingsFactory, earn
from tests.factories.members import MemberFactory, StoreFactory
from tests.factories.rewards import RewardsSettingsFactory

pytestmark = pytest.mark.django_db

EVENING_UTC = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)  # 2 Jan 04:00 in Shanghai


@pytest.fixture
def shanghai(db):
    return ProgrammeSettingsFactory(time_zone="Asia/Shanghai")


@pytest.fixture
def purchase(shanghai):
    RewardsSettingsFactory()
    member = MemberFactory(first_name="Ada", last_name="Lovelace")
    return earn(member, "10.00", when=EVENING_UTC, external_id="R-TZ").transaction


@pytest.fixture
def boss(client, superuser) -> Client:
    client.force_login(superuser)
    return client


def test_admin_list_shows_the_programme_time_zone(boss, purchase):
    page = boss.get(reverse("admin:ledger_transaction_changelist")).content.decode()
    assert "2 Jan 2026 04:00" in page
    assert "1 Jan 2026 20:00" not in page


def test_admin_list_follows_a_change_of_time_zone_at_once(boss, purchase, shanghai):
    shanghai.time_zone = "Europe/London"
    shanghai.save()
    page = boss.get(reverse("admin:ledger_transaction_changelist")).content.decode()
    assert "1 Jan 2026 20:00" in page


def test_admin_in_chinese_writes_the_chinese_date(boss, purchase):
    page = boss.get(
        reverse("admin:ledger_transaction_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "2026年1月2日 04:00" in page


def test_clerk_screen_shows_the_programme_time_zone(django_user_model, purchase):
    store = StoreFactory(code="SH01", name="Nanjing Road")
    user = django_user_model.objects.create_user(username="till", password="till-pass-12345")
    user.groups.add(Group.objects.get(name="Store clerk"))
    StaffProfile.objects.create(user=user, store=store, restricted_to_store=False)
    clerk = Client()
    clerk.force_login(user)
    page = clerk.get(reverse("clerk:member", args=[purchase.member_id])).content.decode()
    assert "2 Jan 2026 04:00" in page
    chinese = clerk.get(
        reverse("clerk:member", args=[purchase.member_id]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "2026年1月2日 04:00" in chinese


def test_admin_form_reads_typed_times_in_the_programme_time_zone(boss, shanghai):
    segment = SegmentFactory()
    data = {
        "name": "Spring",
        "goal": "More visits",
        "segment": str(segment.pk),
        "mechanic": "multiplier",
        "starts_at_0": "2026-03-01",
        "starts_at_1": "09:00",
        "ends_at_0": "2026-04-01",
        "ends_at_1": "00:00",
        "priority": "100",
        "stacking": "combine",
        "points_budget": "",
        "holdout_percent": "0",
        "multiplier": "2",
        "cap_period": "campaign",
        "categories": "",
        "skus": "",
        "channels": ["store"],
        "status_changes-TOTAL_FORMS": "0",
        "status_changes-INITIAL_FORMS": "0",
        "status_changes-MIN_NUM_FORMS": "0",
        "status_changes-MAX_NUM_FORMS": "1000",
    }
    response = boss.post(reverse("admin:campaigns_campaign_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get(name="Spring")
    assert campaign.starts_at == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    # and the change form shows it back as typed
    page = boss.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content
    assert b'value="09:00' in page


def test_api_keeps_iso_8601_with_the_offset(admin_api_client, purchase):
    url = reverse("ledger:statement", args=[purchase.member_id])
    body = admin_api_client.get(url).content.decode()
    assert "2026-01-01T20:00:00Z" in body
    assert "04:00" not in body
