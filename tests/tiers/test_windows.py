from datetime import date

import pytest

from loyalty.tiers.windows import (
    Window,
    WindowKind,
    add_months,
    closed_window_before,
    period_end_for,
    window_for,
)

ENROLLED = date(2020, 6, 15)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 2, 29), -12, date(2023, 2, 28)),
        (date(2024, 12, 15), 1, date(2025, 1, 15)),  # year end
        (date(2025, 1, 15), -1, date(2024, 12, 15)),
    ],
)
def test_add_months_clamps_to_month_end(day, months, expected):
    assert add_months(day, months) == expected


def test_lifetime_window_is_open_ended_and_never_ends():
    window = window_for(WindowKind.LIFETIME, today=date(2026, 3, 1), enrolled_on=ENROLLED)

    assert window == Window(start=ENROLLED, end=None)
    assert window.contains(date(2099, 1, 1))
    assert period_end_for(WindowKind.LIFETIME, today=date(2026, 3, 1), enrolled_on=ENROLLED) is None


def test_calendar_year_across_year_end():
    on_new_years_eve = window_for(
        WindowKind.CALENDAR_YEAR, today=date(2025, 12, 31), enrolled_on=ENROLLED
    )
    on_new_years_day = window_for(
        WindowKind.CALENDAR_YEAR, today=date(2026, 1, 1), enrolled_on=ENROLLED
    )

    assert on_new_years_eve == Window(date(2025, 1, 1), date(2026, 1, 1))
    assert on_new_years_day == Window(date(2026, 1, 1), date(2027, 1, 1))
    assert not on_new_years_eve.contains(date(2026, 1, 1))
    assert period_end_for(
        WindowKind.CALENDAR_YEAR, today=date(2025, 12, 31), enrolled_on=ENROLLED
    ) == date(2026, 1, 1)


def test_rolling_twelve_months_includes_today_and_crosses_leap_day():
    window = window_for(WindowKind.ROLLING_12_MONTHS, today=date(2024, 2, 29), enrolled_on=ENROLLED)

    assert window == Window(date(2023, 3, 1), date(2024, 3, 1))
    assert window.contains(date(2024, 2, 29))
    assert not window.contains(date(2023, 2, 28))


def test_rolling_period_ends_at_each_month_end():
    assert period_end_for(
        WindowKind.ROLLING_12_MONTHS, today=date(2025, 12, 31), enrolled_on=ENROLLED
    ) == date(2026, 1, 1)
    assert period_end_for(
        WindowKind.ROLLING_12_MONTHS, today=date(2024, 2, 10), enrolled_on=ENROLLED
    ) == date(2024, 3, 1)


def test_anniversary_year_before_and_after_the_anniversary():
    before = window_for(WindowKind.ANNIVERSARY_YEAR, today=date(2026, 6, 14), enrolled_on=ENROLLED)
    on = window_for(WindowKind.ANNIVERSARY_YEAR, today=date(2026, 6, 15), enrolled_on=ENROLLED)

    assert before == Window(date(2025, 6, 15), date(2026, 6, 15))
    assert on == Window(date(2026, 6, 15), date(2027, 6, 15))


def test_anniversary_of_a_leap_day_enrolment_falls_on_28_february():
    leap = date(2024, 2, 29)

    window = window_for(WindowKind.ANNIVERSARY_YEAR, today=date(2025, 3, 1), enrolled_on=leap)

    assert window == Window(date(2025, 2, 28), date(2026, 2, 28))
    back_in_a_leap_year = window_for(
        WindowKind.ANNIVERSARY_YEAR, today=date(2028, 2, 29), enrolled_on=leap
    )
    assert back_in_a_leap_year == Window(date(2028, 2, 29), date(2029, 2, 28))


def test_closed_window_is_the_one_that_just_ended():
    closed = closed_window_before(
        WindowKind.CALENDAR_YEAR, period_end=date(2026, 1, 1), enrolled_on=ENROLLED
    )

    assert closed == Window(date(2025, 1, 1), date(2026, 1, 1))
