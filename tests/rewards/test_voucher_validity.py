"""#16.9: a voucher "valid until 31 March" works all of 31 March in the programme's time zone,
and every place that shows a voucher shows that same day."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.core import config_cache
from loyalty.ledger.models import ProgrammeSettings
from rewards.exceptions import VoucherNotValid
from rewards.selectors import voucher_check
from rewards.services import redemption_create, voucher_consume, vouchers_expire_due
from tests.factories.rewards import RewardFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")  # UTC-4 in spring: the UTC date differs late at night


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = datetime(2027, 3, 1, 14, 0, tzinfo=NEW_YORK)

    monkeypatch.setattr(timezone, "now", lambda: Clock.now)
    return Clock


@pytest.fixture
def new_york(programme):
    ProgrammeSettings.objects.filter(pk=1).update(time_zone="America/New_York")
    config_cache.stamp_bump()  # an UPDATE sends no signal: tell the caches


def issue(member, clock):
    """Redeemed at 14:00 on 1 March (New York), valid for 30 days: until 31 March."""
    clock.now = datetime(2027, 3, 1, 14, 0, tzinfo=NEW_YORK)
    return redemption_create(member=member, reward=RewardFactory(voucher_valid_days=30)).voucher


def test_a_voucher_works_all_of_its_last_day_in_the_programme_zone(new_york, funded, clock):
    voucher = issue(funded, clock)

    assert voucher.expires_at == datetime(2027, 4, 1, 0, 0, tzinfo=NEW_YORK)
    clock.now = datetime(2027, 3, 31, 23, 30, tzinfo=NEW_YORK)  # 03:30 UTC on 1 April
    check = voucher_check(code=voucher.code)
    assert check.valid is True
    assert str(check.valid_until) == "2027-03-31"
    assert "31 Mar 2027" in check.message
    assert vouchers_expire_due() == 0
    used = voucher_consume(code=voucher.code, order_ref="LATE-1")
    assert used.status == "used"


def test_it_no_longer_works_from_midnight_after_its_last_day(new_york, funded, clock):
    voucher = issue(funded, clock)

    clock.now = datetime(2027, 4, 1, 0, 0, 1, tzinfo=NEW_YORK)
    with pytest.raises(VoucherNotValid) as caught:
        voucher_consume(code=voucher.code, order_ref="TOO-LATE")
    assert "31 Mar 2027" in caught.value.message
    check = voucher_check(code=voucher.code)
    assert (check.status, check.valid) == ("expired", False)
    assert "31 Mar 2027" in check.message
    assert vouchers_expire_due() == 1


def test_api_and_admin_show_the_same_last_day(
    new_york, funded, clock, admin_api_client, admin_client, admin_user, settings
):
    settings.TIME_ZONE = "UTC"  # the admin's own zone must not move the day shown
    settings.STAFF_TOKEN_LIFETIME_HOURS = 0  # the clock jumps months ahead of the token's issue
    voucher = issue(funded, clock)
    clock.now = datetime(2027, 3, 31, 23, 0, tzinfo=NEW_YORK)

    check = admin_api_client.get(f"/api/v1/rewards/vouchers/{voucher.code}/").json()
    assert check["valid_until"] == "2027-03-31"
    listed = admin_api_client.get(f"/api/v1/rewards/members/{funded.pk}/vouchers/").json()
    assert listed["results"][0]["valid_until"] == "2027-03-31"

    admin_client.force_login(admin_user)  # a session opened on the test clock's day
    response = admin_client.get(reverse("admin:rewards_voucher_changelist"))
    assert response.status_code == 200, response
    page = response.content.decode()
    assert "31 Mar 2027" in page
    member_page = admin_client.get(
        reverse("admin:members_member_change", args=[funded.pk])
    ).content.decode()
    assert "31 Mar 2027" in member_page
