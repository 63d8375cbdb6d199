"""Small hooks for the unfold admin theme."""

from django.conf import settings
from django.http import HttpRequest


def environment_badge(request: HttpRequest) -> list[str] | None:
    """Show a coloured badge in the admin header so nobody mistakes a demo for production."""
    if settings.DEBUG:
        return ["Development", "warning"]
    return None
