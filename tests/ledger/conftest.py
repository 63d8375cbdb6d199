import pytest

from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory


@pytest.fixture
def programme(db):
    """1 point per unit, no pending window, 12-month expiry, debt return policy."""
    return ProgrammeSettingsFactory()


@pytest.fixture
def member(db):
    return MemberFactory()
