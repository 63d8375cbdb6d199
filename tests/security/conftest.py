"""Staff users holding one role each, built through the real role groups."""

from typing import Any

import pytest
from django.contrib.auth.models import Group

from members.models import StaffProfile
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory, StoreFactory

PASSWORD = "a-long-enough-pass-123"


def _staff(django_user_model: Any, username: str, role: str) -> Any:
    user = django_user_model.objects.create_user(
        username=username, password=PASSWORD, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def programme(db: Any) -> Any:
    return ProgrammeSettingsFactory()


@pytest.fixture
def home_store(db: Any) -> Any:
    return StoreFactory(code="HOME")


@pytest.fixture
def other_store(db: Any) -> Any:
    return StoreFactory(code="AWAY")


@pytest.fixture
def clerk(django_user_model: Any, home_store: Any) -> Any:
    user = _staff(django_user_model, "clerk", "Store clerk")
    StaffProfile.objects.create(user=user, store=home_store, restricted_to_store=True)
    return user


@pytest.fixture
def marketer(django_user_model: Any) -> Any:
    return _staff(django_user_model, "marketer", "Marketing")


@pytest.fixture
def finance(django_user_model: Any) -> Any:
    return _staff(django_user_model, "finance", "Finance")


@pytest.fixture
def administrator(django_user_model: Any) -> Any:
    return _staff(django_user_model, "administrator", "Administrator")


@pytest.fixture
def my_member(home_store: Any) -> Any:
    return MemberFactory(home_store=home_store, last_name="Mine")


@pytest.fixture
def their_member(other_store: Any) -> Any:
    return MemberFactory(home_store=other_store, last_name="Theirs")
