"""Streaks: consecutive months (or weeks) with a purchase, in the programme's time zone, computed
in SQL; broken by a missed period; current vs longest."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from campaigns.engagement.models import MemberStreak
from campaigns.engagement.services import period_index, period_start, streaks_compute
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")
UTC = ZoneInfo("UTC")


def at(year, month, day, hour=12, zone=LONDON):
    return datetime(year, month, day, hour, tzinfo=zone)


def streak(member) -> tuple[int, int]:
    row = MemberStreak.objects.get(member=member)
    return row.current, row.longest


def buy(member, *moments):
    for moment in moments:
        earn(member, when=moment)


def test_consecutive_months_make_a_streak_and_a_missed_month_breaks_it(settings_row):
    member = MemberFactory(enrolled_at=at(2025, 1, 1))
    buy(member, at(2026, 1, 5), at(2026, 2, 5), at(2026, 3, 5))  # 3 in a row
    buy(member, at(2026, 5, 5), at(2026, 6, 5))  # April missed: a new streak of 2
    streaks_compute(now=at(2026, 6, 20))
    assert streak(member) == (2, 3)
    row = MemberStreak.objects.get(member=member)
    assert row.last_period_start == datetime(2026, 6, 1).date()


def test_the_period_under_way_does_not_break_the_streak_yet(settings_row):
    member = MemberFactory(enrolled_at=at(2025, 1, 1))
    buy(member, at(2026, 4, 10), at(2026, 5, 10))
    streaks_compute(now=at(2026, 6, 1, 9))  # June has only started: still 2
    assert streak(member) == (2, 2)
    streaks_compute(now=at(2026, 7, 1, 9))  # June ended without a purchase: broken
    assert streak(member) == (0, 2)


def test_several_purchases_in_one_month_count_once(settings_row):
    member = MemberFactory(enrolled_at=at(2025, 1, 1))
    buy(member, at(2026, 3, 1), at(2026, 3, 15), at(2026, 3, 31))
    streaks_compute(now=at(2026, 3, 31, 20))
    assert streak(member) == (1, 1)


def test_month_boundaries_are_read_in_the_programme_time_zone(settings_row):
    member = MemberFactory(enrolled_at=at(2025, 1, 1))
    # 31 Jan 23:30 in London is 31 Jan in London, but 1 Feb in Tokyo
    buy(member, datetime(2026, 1, 31, 23, 30, tzinfo=UTC), at(2026, 3, 10))
    streaks_compute(now=at(2026, 3, 20), zone=LONDON)
    assert streak(member) == (1, 1)  # January and March: February missed
    streaks_compute(now=at(2026, 3, 20), zone=TOKYO)
    assert streak(member) == (2, 2)  # February and March in Tokyo


def test_british_summer_time_edge(settings_row):
    member = MemberFactory(enrolled_at=at(2025, 1, 1))
    # 30 Apr 23:30 UTC is 1 May 00:30 in London (BST): May, not April
    buy(member, datetime(2026, 4, 30, 23, 30, tzinfo=UTC), at(2026, 6, 2))
    streaks_compute(now=at(2026, 6, 3))
    assert streak(member) == (2, 2)  # May and June


def test_year_boundary_is_consecutive(settings_row):
    member = MemberFactory(enrolled_at=at(2025, 1, 1))
    buy(member, at(2025, 11, 3), at(2025, 12, 3), at(2026, 1, 3))
    streaks_compute(now=at(2026, 1, 20))
    assert streak(member) == (3, 3)


def test_weeks_mode(settings_row):
    settings_row.streak_period = "week"
    settings_row.save()
    member = MemberFactory(enrolled_at=at(2025, 1, 1))
    # Sun 1 Mar, Mon 2 Mar (a new week), Mon 9 Mar; then skip a week; Mon 23 Mar
    buy(member, at(2026, 3, 1), at(2026, 3, 2), at(2026, 3, 9), at(2026, 3, 23))
    streaks_compute(now=at(2026, 3, 24))
    assert streak(member) == (1, 3)
    assert MemberStreak.objects.get(member=member).last_period_start == datetime(2026, 3, 23).date()


def test_only_the_given_members_are_recomputed_and_returns_do_not_count(settings_row):
    one = MemberFactory(enrolled_at=at(2025, 1, 1))
    two = MemberFactory(enrolled_at=at(2025, 1, 1))
    buy(one, at(2026, 1, 5))
    buy(two, at(2026, 1, 5))
    MemberStreak.objects.all().delete()
    streaks_compute(member_ids=[one.pk], now=at(2026, 1, 6))
    assert list(MemberStreak.objects.values_list("member_id", flat=True)) == [one.pk]


def test_period_index_round_trip():
    for day in (datetime(2026, 1, 1).date(), datetime(2025, 12, 31).date()):
        assert period_start(period_index(day, "month"), "month") == day.replace(day=1)
    monday = datetime(2026, 3, 2).date()
    assert period_start(period_index(datetime(2026, 3, 8).date(), "week"), "week") == monday
