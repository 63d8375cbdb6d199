"""Money, points, days and times per staff language (loyalty.core.formatting)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from loyalty.core.formatting import (
    format_day,
    format_day_month,
    format_moment,
    format_money,
    format_points,
)


@pytest.mark.parametrize(
    ("language", "amount", "currency", "expected"),
    [
        ("en-gb", "1234.5", "GBP", "£1,234.50"),
        ("zh-hans", "1234.5", "CNY", "¥1,234.50"),
        ("zh-hans", "1234.5", "GBP", "£1,234.50"),
        ("en-gb", "1234567.891", "CNY", "¥1,234,567.89"),
        ("en-gb", "-3", "EUR", "-€3.00"),
        ("zh-hans", "0.5", "CHF", "0.50 CHF"),
    ],
)
def test_money_has_the_currency_symbol_and_grouping(language, amount, currency, expected):
    with translation.override(language):
        assert format_money(Decimal(amount), currency) == expected


@pytest.mark.parametrize(
    ("language", "points", "expected"),
    [
        ("en-gb", 1, "1 point"),
        ("en-gb", 1250, "1,250 points"),
        ("en-gb", -1, "-1 point"),
        ("zh-hans", 1, "1 积分"),
        ("zh-hans", 1250, "1,250 积分"),
    ],
)
def test_points_are_grouped_and_counted_in_words(language, points, expected):
    with translation.override(language):
        assert format_points(points) == expected


@pytest.mark.parametrize(
    ("language", "expected"), [("en-gb", "31 Mar 2027"), ("zh-hans", "2027年3月31日")]
)
def test_days_in_the_staff_language(language, expected):
    with translation.override(language):
        assert format_day(date(2027, 3, 31)) == expected


@pytest.mark.parametrize(
    ("language", "zone", "expected"),
    [
        ("en-gb", "Europe/London", "3 Dec 2026 23:30"),
        ("zh-hans", "Asia/Shanghai", "2026年12月4日 07:30"),
        ("en-gb", "Asia/Shanghai", "4 Dec 2026 07:30"),
    ],
)
def test_times_in_the_staff_language_and_the_programme_time_zone(language, zone, expected):
    moment = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)

    with translation.override(language):
        assert format_moment(moment, zone) == expected


def test_a_day_of_a_moment_is_the_programme_time_zone_day():
    late_evening_in_london = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)

    with translation.override("zh-hans"):
        assert format_day(late_evening_in_london, "Asia/Shanghai") == "2026年12月4日"
        assert format_day(late_evening_in_london, "Europe/London") == "2026年12月3日"


@pytest.mark.parametrize(("language", "expected"), [("en-gb", "4 Dec"), ("zh-hans", "12月4日")])
def test_a_day_of_this_year_without_its_year(language, expected):
    with translation.override(language):
        assert format_day_month(datetime(2026, 12, 3, 23, 30, tzinfo=UTC), "Asia/Shanghai") == (
            expected
        )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en-gb", "¥1,234.50 · 1,250 points · 31 Mar 2027"),
        ("zh-hans", "¥1,234.50 · 1,250 积分 · 2027年3月31日"),
    ],
)
def test_template_filters_use_the_same_helper(language, expected):
    template = Template(
        "{% load loyalty_format %}{{ amount|money:'CNY' }} · {{ n|points }} · {{ d|day }}"
    )
    context = Context({"amount": Decimal("1234.5"), "n": 1250, "d": date(2027, 3, 31)})

    with translation.override(language):
        assert template.render(context) == expected
