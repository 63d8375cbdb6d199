"""A demo till user (idempotent, DEBUG only through load_demo_data): `clerk` / `clerk`, with
the Store clerk role, working at London Covent Garden and restricted to its members."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from loyalty.core.roles import roles_setup
from members.models import StaffProfile, Store

USERNAME = "clerk"
PASSWORD = "clerk"
STORE = "LDN01"


def load(*, stdout: Any) -> None:
    store = Store.objects.filter(code=STORE).first()
    if store is None:
        return
    if not Group.objects.filter(name="Store clerk").exists():
        roles_setup()
    user_model = get_user_model()
    user = user_model.objects.filter(username=USERNAME).first()
    if user is None:
        user = user_model.objects.create_user(USERNAME, password=PASSWORD)
    user.groups.add(Group.objects.get(name="Store clerk"))
    StaffProfile.objects.update_or_create(
        user=user, defaults={"store": store, "restricted_to_store": True}
    )
    stdout.write(
        f"clerk: till user {USERNAME!r} password {PASSWORD!r} at {store.name} "
        "(http://127.0.0.1:8000/clerk/)"
    )
