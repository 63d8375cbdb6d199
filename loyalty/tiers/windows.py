"""Qualification windows: which days count towards a tier, and when a period ends.

All boundaries are calendar dates in the programme's time zone; a window is the half-open
range [start, end) of dates. Kinds:

- lifetime: everything since enrolment; never ends, so nobody is ever downgraded by the job.
- calendar_year: 1 January to 31 December; the period ends at the start of 1 January.
- rolling_12_months: the twelve months up to and including today; re-evaluated at every
  calendar month end (the period end is the first day of the next month).
- anniversary_year: from the member's enrolment anniversary to the next one. A member enrolled
  on 29 February has the anniversary on 28 February in years without that day.
"""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.translation import gettext_lazy as _

from loyalty.core.dates import add_months


class WindowKind:
    LIFETIME = "lifetime"
    CALENDAR_YEAR = "calendar_year"
    ROLLING_12_MONTHS = "rolling_12_months"
    ANNIVERSARY_YEAR = "anniversary_year"

    choices = [
        (LIFETIME, _("Lifetime")),
        (CALENDAR_YEAR, _("Calendar year")),
        (ROLLING_12_MONTHS, _("Rolling 12 months")),
        (ANNIVERSARY_YEAR, _("Membership anniversary year")),
    ]
    values = [value for value, _label in choices]


@dataclass(frozen=True)
class Window:
    start: date  # first day that counts
    end: date | None  # first day that no longer counts (None: open-ended, lifetime)

    def contains(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


def anniversary_in(year: int, enrolled_on: date) -> date:
    """The enrolment anniversary in `year` (29 February falls back to 28 February)."""
    last_day = calendar.monthrange(year, enrolled_on.month)[1]
    return date(year, enrolled_on.month, min(enrolled_on.day, last_day))


def window_for(kind: str, *, today: date, enrolled_on: date) -> Window:
    """The qualification window that contains `today`."""
    if kind == WindowKind.LIFETIME:
        return Window(start=enrolled_on, end=None)
    if kind == WindowKind.CALENDAR_YEAR:
        return Window(start=date(today.year, 1, 1), end=date(today.year + 1, 1, 1))
    if kind == WindowKind.ROLLING_12_MONTHS:
        return Window(
            start=add_months(today, -12) + timedelta(days=1), end=today + timedelta(days=1)
        )
    if kind == WindowKind.ANNIVERSARY_YEAR:
        this_year = anniversary_in(today.year, enrolled_on)
        if today >= this_year:
            return Window(start=this_year, end=anniversary_in(today.year + 1, enrolled_on))
        return Window(start=anniversary_in(today.year - 1, enrolled_on), end=this_year)
    raise ValueError(f"unknown window kind {kind!r}")


def period_end_for(kind: str, *, today: date, enrolled_on: date) -> date | None:
    """The next day on which the period containing `today` ends (None for lifetime).

    For calendar and anniversary years this is the window's end; for a rolling window it is the
    first day of next month, when the trailing twelve months are looked at again.
    """
    if kind == WindowKind.LIFETIME:
        return None
    if kind == WindowKind.ROLLING_12_MONTHS:
        return add_months(today.replace(day=1), 1)
    return window_for(kind, today=today, enrolled_on=enrolled_on).end


def closed_window_before(kind: str, *, period_end: date, enrolled_on: date) -> Window:
    """The window that just closed at `period_end` (what the period-end job judges)."""
    last_day = period_end - timedelta(days=1)
    return window_for(kind, today=last_day, enrolled_on=enrolled_on)


def last_period_end(kind: str, *, as_of: date, enrolled_on: date) -> date | None:
    """The latest period end on or before `as_of` (what the nightly job judges), or None when
    there is none to judge: lifetime windows never end, and a period end on or before the
    enrolment day closes no window the member was part of."""
    if kind == WindowKind.LIFETIME:
        return None
    if kind == WindowKind.CALENDAR_YEAR:
        end = date(as_of.year, 1, 1)
    elif kind == WindowKind.ROLLING_12_MONTHS:
        end = as_of.replace(day=1)
    elif kind == WindowKind.ANNIVERSARY_YEAR:
        end = anniversary_in(as_of.year, enrolled_on)
        if end > as_of:
            end = anniversary_in(as_of.year - 1, enrolled_on)
    else:
        raise ValueError(f"unknown window kind {kind!r}")
    return end if end > enrolled_on else None
