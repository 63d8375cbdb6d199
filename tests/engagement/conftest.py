import pytest

from campaigns.hooks import cache_clear
from tests.factories.engagement import EngagementSettingsFactory
from tests.factories.ledger import ProgrammeSettingsFactory


@pytest.fixture(autouse=True)
def _fresh_campaign_cache():
    cache_clear()
    yield
    cache_clear()


@pytest.fixture
def programme(db):
    return ProgrammeSettingsFactory()


@pytest.fixture
def settings_row(programme):
    return EngagementSettingsFactory()
