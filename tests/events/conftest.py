import pytest

from tests.factories.engagement import EngagementSettingsFactory
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory


@pytest.fixture
def programme(db):
    ProgrammeSettingsFactory()
    return EngagementSettingsFactory()


@pytest.fixture
def member(programme):
    return MemberFactory()
