from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.factories.membership import ClubPlanFactory
from tests.factories.rewards import RewardsSettingsFactory

LONDON = ZoneInfo("Europe/London")


class Clock:
    now = datetime(2026, 1, 10, 10, 0, tzinfo=LONDON)

    def at(self, *args: int) -> datetime:
        self.now = datetime(*args, tzinfo=LONDON)  # type: ignore[misc]
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


@pytest.fixture
def programme(db, clock):
    RewardsSettingsFactory()
    return ProgrammeSettingsFactory()


@pytest.fixture
def member(programme):
    return MemberFactory()


@pytest.fixture
def plan(programme):
    """Yearly, 36.50, x1.5 points, 10% off rewards, free delivery, 14 days' grace."""
    return ClubPlanFactory(code="plus", name="Plus club")
