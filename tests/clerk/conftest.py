from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from loyalty.ledger.services import points_earn
from members.models import StaffProfile
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory, StoreFactory
from tests.factories.rewards import RewardsSettingsFactory


@pytest.fixture
def programme(db):
    """1 point per unit, a point worth 0.01, no pending window, 12-month expiry."""
    return ProgrammeSettingsFactory()


@pytest.fixture
def rules(db):
    return RewardsSettingsFactory()


@pytest.fixture
def store(db):
    return StoreFactory(code="LDN01", name="London Covent Garden")


@pytest.fixture
def other_store(db):
    return StoreFactory(code="MAN01", name="Manchester Arndale")


def make_clerk(django_user_model: Any, username: str, store: Any, *, restricted: bool) -> Any:
    """A till user with the Store clerk role, working at `store`."""
    user = django_user_model.objects.create_user(username=username, password=f"{username}-pass-123")
    user.groups.add(Group.objects.get(name="Store clerk"))
    StaffProfile.objects.create(user=user, store=store, restricted_to_store=restricted)
    return user


@pytest.fixture
def clerk_user(django_user_model: Any, programme, rules, store) -> Any:
    """A Store clerk working at `store`, allowed to serve members of every store."""
    return make_clerk(django_user_model, "till", store, restricted=False)


@pytest.fixture
def restricted_user(django_user_model: Any, programme, rules, store) -> Any:
    """A Store clerk who may only see members of `store`."""
    return make_clerk(django_user_model, "local", store, restricted=True)


@pytest.fixture
def clerk(clerk_user) -> Client:
    client = Client()
    client.force_login(clerk_user)
    return client


@pytest.fixture
def restricted(restricted_user) -> Client:
    client = Client()
    client.force_login(restricted_user)
    return client


@pytest.fixture
def member(programme, rules, store):
    return MemberFactory(first_name="Ada", last_name="Lovelace", home_store=store)


@pytest.fixture
def funded(member):
    """A member with 1,000 available points."""
    points_earn(member=member, points=1000, idempotency_key="seed")
    return member
