"""Time rules of the programme: when points become available and when they expire."""

import copy
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from loyalty.core import config_cache
from loyalty.core.dates import add_months
from loyalty.ledger.models import ProgrammeSettings


def programme_settings_fresh() -> ProgrammeSettings:
    """The settings row read now (created with the defaults on first use)."""
    programme, _ = ProgrammeSettings.objects.get_or_create(pk=1)
    return programme


config_cache.register("ledger.programme", programme_settings_fresh, models=[ProgrammeSettings])


def programme_settings_get() -> ProgrammeSettings:
    """The programme settings from this process's cache (loyalty/core/config_cache.py: at most
    a second old, no query while the stamp stands); a copy, so a caller may change it."""
    cached: ProgrammeSettings = config_cache.cached("ledger.programme")
    return copy.copy(cached)


def available_from(programme: ProgrammeSettings, occurred_at: datetime) -> datetime:
    """Pending for the return window; with 0 days, available at once."""
    return occurred_at + timedelta(days=programme.pending_days)


def expires_at(programme: ProgrammeSettings, available: datetime) -> datetime | None:
    """The expiry clock starts when points become available and ends at the end of a day in the
    programme's time zone (returned as the first instant after it: a lot expires at now >= it)."""
    zone = ZoneInfo(programme.time_zone)
    day = available.astimezone(zone).date()
    if programme.expiry_policy == ProgrammeSettings.ExpiryPolicy.NEVER:
        return None
    if programme.expiry_policy == ProgrammeSettings.ExpiryPolicy.END_OF_NEXT_YEAR:
        last_day = day.replace(year=day.year + 1, month=12, day=31)
    elif programme.expiry_policy == ProgrammeSettings.ExpiryPolicy.DAYS_AFTER:
        last_day = day + timedelta(days=programme.expiry_days or 0)
    else:
        last_day = add_months(day, programme.expiry_months)
    return datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone)


def local_date(programme: ProgrammeSettings, moment: datetime):  # type: ignore[no-untyped-def]
    return moment.astimezone(ZoneInfo(programme.time_zone)).date()


def _phone_region_fresh() -> str | None:
    return ProgrammeSettings.objects.filter(pk=1).values_list("phone_region", flat=True).first()


config_cache.register("ledger.phone_region", _phone_region_fresh, models=[ProgrammeSettings])


def programme_phone_region() -> str | None:
    """The programme's phone region (members.hooks provider); None before the settings exist.
    From this process's cache (a clerk's phone lookup reads it on every request)."""
    return config_cache.cached("ledger.phone_region")
