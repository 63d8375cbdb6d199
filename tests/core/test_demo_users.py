"""Demo logins: one per staff role, passwords that meet our own password rules, printed once
(or DEMO_PASSWORD from the environment)."""

import io
import re

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.core.management.base import CommandError

from loyalty.core.demo_users import (
    DEMO_USERS,
    demo_logins_table,
    demo_password_generate,
    demo_users_ensure,
)
from loyalty.core.roles import ROLES

pytestmark = pytest.mark.django_db


def _load(monkeypatch, settings, password: str | None = None) -> str:
    settings.DEBUG = True
    if password is None:
        monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("DEMO_PASSWORD", password)
    out = io.StringIO()
    call_command("load_demo_data", stdout=out)
    return out.getvalue()


def _printed(output: str) -> dict[str, str]:
    """username -> password as printed in the demo logins table."""
    found = re.findall(r"^\s+(\w+)\s+.+?\s+([a-z0-9]{4}(?:-[a-z0-9]{4}){3})$", output, re.M)
    return dict(found)


def test_every_role_has_a_demo_user():
    assert {u.role for u in DEMO_USERS if u.role} == {role.name for role in ROLES}
    assert any(u.role is None for u in DEMO_USERS)  # and a superuser


def test_generated_passwords_pass_the_validators_and_are_printed_once(
    monkeypatch, settings, django_user_model
):
    output = _load(monkeypatch, settings)
    printed = _printed(output)
    assert set(printed) == {u.username for u in DEMO_USERS}
    assert len(set(printed.values())) == len(printed)  # each user its own
    for username, password in printed.items():
        user = django_user_model.objects.get(username=username)
        validate_password(password, user=user)  # raises when a rule is broken
        assert user.check_password(password)
    for demo in DEMO_USERS:
        user = django_user_model.objects.get(username=demo.username)
        if demo.role:
            assert list(user.groups.values_list("name", flat=True)) == [demo.role]
        else:
            assert user.is_superuser

    again = _load(monkeypatch, settings)
    assert _printed(again) == {}
    for username, password in printed.items():
        assert django_user_model.objects.get(username=username).check_password(password)


def test_the_old_fixed_passwords_are_replaced(django_user_model):
    django_user_model.objects.create_superuser("admin", "admin@example.com", "admin")
    printed = _printed(demo_logins_table(demo_users_ensure(env={})))
    admin = django_user_model.objects.get(username="admin")
    assert not admin.check_password("admin")
    assert admin.check_password(printed["admin"])


def test_demo_password_from_the_environment(django_user_model):
    logins = demo_users_ensure(env={"DEMO_PASSWORD": "harbour-lantern-till-7"})
    assert "harbour-lantern-till-7" in demo_logins_table(logins)
    for demo in DEMO_USERS:
        user = django_user_model.objects.get(username=demo.username)
        assert user.check_password("harbour-lantern-till-7")


@pytest.mark.parametrize("weak", ["admin", "clerk", "123456789012345", "password1234"])
def test_a_weak_demo_password_is_refused_and_nobody_is_created(
    monkeypatch, settings, django_user_model, weak
):
    with pytest.raises(CommandError, match="DEMO_PASSWORD is refused"):
        _load(monkeypatch, settings, weak)
    assert not django_user_model.objects.filter(username="marketing").exists()


def test_generated_password_shape():
    for _ in range(50):
        password = demo_password_generate()
        assert re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}", password)
        validate_password(password)


def test_ensure_is_idempotent(django_user_model):
    first = demo_users_ensure(env={})
    count = django_user_model.objects.count()
    second = demo_users_ensure(env={})
    assert django_user_model.objects.count() == count
    assert all(login.password for login in first)
    assert not any(login.password for login in second)
