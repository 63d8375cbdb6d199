"""Timed redemption windows (flash offers): the validity window's instants and the daily hours,
enforced by the catalogue and by redemption, at the boundaries, in the programme's time zone
(New York here, while the server runs on London time)."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.ledger.services import points_earn
from rewards.exceptions import RewardNotAvailable
from rewards.models import Redemption, Reward
from rewards.selectors import reward_catalogue_for_member, reward_list_public
from rewards.services import redemption_create
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory, RewardsSettingsFactory

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = datetime(2026, 7, 1, 9, 0, tzinfo=NY)

    monkeypatch.setattr(timezone, "now", lambda: Clock.now)
    return Clock


@pytest.fixture
def member(clock):
    ProgrammeSettingsFactory(time_zone="America/New_York")
    RewardsSettingsFactory()
    member = MemberFactory()
    points_earn(member=member, points=10_000, idempotency_key="seed")
    return member


def _live(reward: Reward, at: datetime) -> bool:
    return reward_list_public(now=at).filter(pk=reward.pk).exists()


def _redeems(clock, member, reward, at: datetime) -> bool:
    clock.now = at
    try:
        redemption_create(member=member, reward=reward)
    except RewardNotAvailable:
        return False
    return True


def test_daily_hours_are_enforced_at_both_boundaries_in_the_programme_zone(clock, member):
    lunch = RewardFactory(code="lunch", daily_from=time(12, 0), daily_until=time(14, 0))
    day = datetime(2026, 7, 2, tzinfo=NY)
    opens = day.replace(hour=12)
    closes = day.replace(hour=14)
    second = timedelta(seconds=1)

    assert not _live(lunch, opens - second)
    assert _live(lunch, opens)
    assert _live(lunch, closes - second)
    assert not _live(lunch, closes)
    # 12:00 in New York is 17:00 in London: the server's zone plays no part
    assert _live(lunch, datetime(2026, 7, 2, 17, 30, tzinfo=ZoneInfo("Europe/London")))

    assert not _redeems(clock, member, lunch, opens - second)
    assert _redeems(clock, member, lunch, opens)
    assert _redeems(clock, member, lunch, closes - second)
    assert not _redeems(clock, member, lunch, closes)
    assert Redemption.objects.filter(reward=lunch).count() == 2


def test_daily_hours_across_midnight(clock, member):
    late = RewardFactory(code="late", daily_from=time(22, 0), daily_until=time(2, 0))
    day = datetime(2026, 7, 2, tzinfo=NY)
    assert not _live(late, day.replace(hour=21, minute=59, second=59))
    assert _live(late, day.replace(hour=22))
    assert _live(late, day.replace(hour=23, minute=59))
    assert _live(late, day.replace(hour=0))
    assert _live(late, day.replace(hour=1, minute=59, second=59))
    assert not _live(late, day.replace(hour=2))
    assert not _live(late, day.replace(hour=12))


def test_flash_offer_between_two_instants_start_included_end_excluded(clock, member):
    start = datetime(2026, 7, 3, 18, 0, tzinfo=NY)
    flash = RewardFactory(
        code="flash", available_from=start, available_until=start + timedelta(hours=2)
    )
    second = timedelta(seconds=1)
    assert not _redeems(clock, member, flash, start - second)
    assert _redeems(clock, member, flash, start)
    assert _redeems(clock, member, flash, start + timedelta(hours=2) - second)
    assert not _redeems(clock, member, flash, start + timedelta(hours=2))


def test_the_member_catalogue_shows_a_flash_reward_only_inside_its_hours(clock, member):
    RewardFactory(code="lunch", daily_from=time(12, 0), daily_until=time(14, 0))
    inside = datetime(2026, 7, 2, 12, 30, tzinfo=NY)
    outside = datetime(2026, 7, 2, 14, 30, tzinfo=NY)
    codes = lambda at: {i.reward.code for i in reward_catalogue_for_member(member=member, now=at)}  # noqa: E731
    assert "lunch" in codes(inside)
    assert "lunch" not in codes(outside)


def test_daily_hours_need_both_times_and_two_different_times(member):
    with pytest.raises(ValidationError) as caught:
        RewardFactory.build(code="x", daily_from=time(12, 0)).full_clean()
    assert "daily_until" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        RewardFactory.build(code="y", daily_from=time(12, 0), daily_until=time(12, 0)).full_clean()
    assert "daily_until" in caught.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        Reward.objects.create(
            code="z", name="Z", kind="gift", points_cost=1, daily_from=time(12, 0)
        )
