"""Environment helpers shared by manage.py, WSGI, ASGI and Celery (no Django imports here)."""

import os

PROFILES = {"local", "test", "production"}


def settings_module() -> str:
    """Pick the settings module from DJANGO_ENV (local by default, production for deployments)."""
    profile = os.environ.get("DJANGO_ENV", "local").strip().lower() or "local"
    if profile not in PROFILES:
        raise SystemExit(f"DJANGO_ENV must be one of {sorted(PROFILES)}, not {profile!r}")
    return f"config.settings.{profile}"
