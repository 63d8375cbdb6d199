import pytest

from loyalty.ledger.services import points_earn
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardsSettingsFactory


@pytest.fixture
def programme(db):
    """1 point per unit, points worth 0.01, no pending window, 12-month expiry."""
    return ProgrammeSettingsFactory()


@pytest.fixture
def rules(db):
    return RewardsSettingsFactory()


@pytest.fixture
def member(programme, rules):
    return MemberFactory()


@pytest.fixture
def funded(member):
    """A member with 1,000 available points in one lot."""
    points_earn(member=member, points=1000, idempotency_key="seed")
    return member
