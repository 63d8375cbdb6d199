"""The demo till user (idempotent, DEBUG only through load_demo_data): `clerk`, with the Store
clerk role, working at London Covent Garden and restricted to its members. The user and its
password come from loyalty/core/demo_users.py (generated and printed once, or DEMO_PASSWORD)."""

from typing import Any

from django.contrib.auth import get_user_model

from loyalty.core.demo_users import demo_logins_table, demo_users_ensure
from members.models import StaffProfile, Store

USERNAME = "clerk"
STORE = "LDN01"


def load(*, stdout: Any) -> None:
    from loyalty.core.demo_locale import chinese_demo

    store = Store.objects.filter(code="SH01" if chinese_demo() else STORE).first()
    if store is None:
        return
    user = get_user_model().objects.filter(username=USERNAME).first()
    if user is None:  # run on its own, not through load_demo_data
        stdout.write(demo_logins_table(demo_users_ensure()))
        user = get_user_model().objects.get(username=USERNAME)
    StaffProfile.objects.update_or_create(
        user=user, defaults={"store": store, "restricted_to_store": True}
    )
    stdout.write(f"clerk: till user {USERNAME!r} at {store.name} (http://127.0.0.1:8000/clerk/)")
