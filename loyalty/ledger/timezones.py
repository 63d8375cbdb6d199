"""The programme's time zone for what staff read: the admin and the clerk screen show and read
dates and times in it (ProgrammeSettings.time_zone), not in settings.TIME_ZONE.

`programme_zone_name()` is cached in Django's cache (shared by the workers when CACHE_URL is
Redis) for ZONE_TTL seconds and dropped whenever the programme settings are saved, so a staff
page costs no query for it. `ProgrammeTimeZoneMiddleware` activates it for every request
except the API's (/api/ keeps its ISO 8601 output with the offset of settings.TIME_ZONE: its
clients are programs) and deactivates it after the response, so no other request of the same
thread inherits it. Messages rendered in Celery tasks, which have no request, use
`programme_zone()` under `timezone.override` (campaigns.messaging)."""

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from loyalty.ledger.models import ProgrammeSettings

ZONE_CACHE_KEY = "ledger:programme-time-zone"
ZONE_TTL = 300


def programme_zone_name() -> str:
    """The programme's time zone name (settings.TIME_ZONE before the settings exist, or if the
    stored name is unknown)."""
    name = cache.get(ZONE_CACHE_KEY)
    if name is None:
        try:
            stored = (
                ProgrammeSettings.objects.filter(pk=1).values_list("time_zone", flat=True).first()
            )
        except DatabaseError:  # a database not migrated yet (a deploy probe): not cached
            return settings.TIME_ZONE
        try:
            name = str(ZoneInfo(stored)) if stored else settings.TIME_ZONE
        except (ZoneInfoNotFoundError, ValueError):
            name = settings.TIME_ZONE
        cache.set(ZONE_CACHE_KEY, name, ZONE_TTL)
    return str(name)


def programme_zone() -> ZoneInfo:
    return ZoneInfo(programme_zone_name())


def programme_zone_forget(**kwargs: object) -> None:
    """post_save / post_delete receiver of ProgrammeSettings: drop the cached name now and again
    when the transaction commits (a request in between may have cached the old one)."""
    cache.delete(ZONE_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(ZONE_CACHE_KEY))


class ProgrammeTimeZoneMiddleware:
    """Activate the programme's time zone for staff pages (admin, clerk screen): Django then
    shows datetimes in it (admin lists, forms, {{ value }} in templates) and reads the dates
    and times typed into admin forms in it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            timezone.deactivate()
            return self.get_response(request)
        timezone.activate(programme_zone())
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
