from typing import Any

import pytest
from django.test import Client

from loyalty.ledger.services import points_earn
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


@pytest.fixture
def clerk_user(django_user_model: Any, programme, rules) -> Any:
    """A till user allowed on the clerk screen (a superuser until roles exist)."""
    return django_user_model.objects.create_superuser(
        username="till", email="till@example.com", password="till-pass-123"
    )


@pytest.fixture
def clerk(clerk_user) -> Client:
    client = Client()
    client.force_login(clerk_user)
    return client


@pytest.fixture
def member(programme, rules, store):
    return MemberFactory(first_name="Ada", last_name="Lovelace", home_store=store)


@pytest.fixture
def funded(member):
    """A member with 1,000 available points."""
    points_earn(member=member, points=1000, idempotency_key="seed")
    return member
