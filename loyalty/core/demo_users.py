"""Demo logins, one per staff role, for `make run` (DEBUG only, through load_demo_data).

Every password meets AUTH_PASSWORD_VALIDATORS. Either:
- `DEMO_PASSWORD` is set in the environment: every demo user gets that password on every run
  (refused with the validators' messages when it is too weak); or
- it is not set: each demo user gets its own generated password when it is created, printed
  once by load_demo_data, and kept on later runs. A demo user still holding one of the old fixed
  passwords ("admin", "clerk") gets a generated one instead.
Forgot a generated password? `uv run python manage.py changepassword <user>`, or run
`DEMO_PASSWORD=... make run`.
"""

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from loyalty.core.roles import ROLES, roles_setup

ENV_PASSWORD = "DEMO_PASSWORD"
OLD_FIXED_PASSWORDS = ("admin", "clerk")
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off a terminal and typed


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str | None  # a role group of loyalty/core/roles.py; None: a superuser
    is_staff: bool = True
    email: str = ""


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", None, email="admin@example.com"),
    DemoUser("marketing", "Marketing"),
    DemoUser("finance", "Finance"),
    DemoUser("manager", "Administrator"),
    DemoUser("service", "Customer service"),
    # the clerk screen needs no admin access; loyalty/clerk/demo.py binds the user to a store
    DemoUser("clerk", "Store clerk", is_staff=False),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    password: str | None  # None: unchanged since it was first printed


def demo_password_generate(*, user: Any = None) -> str:
    """Four groups of four, e.g. "k7mq-x3ra-p9tn-wd4e": 80 bits, passes every validator."""
    while True:
        password = "-".join("".join(secrets.choice(ALPHABET) for _ in range(4)) for _ in range(4))
        try:
            validate_password(password, user=user)
        except ValidationError:
            continue
        return password


@transaction.atomic
def demo_users_ensure(*, env: Mapping[str, str] | None = None) -> list[DemoLogin]:
    """Create the demo users (idempotent) and return their logins; a password is returned only
    when it was set now. Raises ValidationError when DEMO_PASSWORD fails the validators."""
    env = os.environ if env is None else env
    fixed = env.get(ENV_PASSWORD) or None
    if Group.objects.filter(name__in=[r.name for r in ROLES]).count() != len(ROLES):
        roles_setup()
    user_model = get_user_model()
    logins = []
    for demo in DEMO_USERS:
        found = user_model.objects.filter(username=demo.username).first()
        created = found is None
        user = user_model(username=demo.username, email=demo.email) if found is None else found
        user.is_staff = demo.is_staff
        user.is_superuser = demo.role is None
        user.is_active = True
        password = None
        if fixed is not None:
            validate_password(fixed, user=user)
            if created or not user.check_password(fixed):
                password = fixed
        elif created or any(user.check_password(old) for old in OLD_FIXED_PASSWORDS):
            password = demo_password_generate(user=user)
        if password is not None:
            user.set_password(password)
        user.save()
        if demo.role is not None:
            user.groups.add(Group.objects.get(name=demo.role))
        logins.append(DemoLogin(demo.username, demo.role or "Superuser", password))
    return logins


def demo_logins_table(logins: list[DemoLogin]) -> str:
    """What load_demo_data prints: every demo login, with its password when it was set now."""
    lines = ["Demo logins (admin: /admin/, clerk screen: /clerk/):"]
    for login in logins:
        shown = login.password or "(unchanged: printed when it was set)"
        lines.append(f"  {login.username:<10} {login.role:<14} {shown}")
    if any(login.password for login in logins) and not os.environ.get(ENV_PASSWORD):
        lines.append(
            "Generated passwords are shown only this once. Set DEMO_PASSWORD to choose one, "
            "or run `uv run python manage.py changepassword <user>`."
        )
    return "\n".join(lines)
