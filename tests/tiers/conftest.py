from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.factories.tiers import TierPolicyFactory, standard_ladder

LONDON = ZoneInfo("Europe/London")


class Clock:
    """A settable 'now' for services that read django.utils.timezone.now()."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def set(self, moment: datetime | date) -> datetime:
        if not isinstance(moment, datetime):
            moment = datetime.combine(moment, time(12), tzinfo=LONDON)
        self.now = moment
        return moment


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(datetime(2025, 3, 1, 12, tzinfo=UTC))
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


@pytest.fixture
def programme(db):
    """1 point per unit, no pending window, programme time zone Europe/London."""
    return ProgrammeSettingsFactory(pending_days=0)


@pytest.fixture
def policy(db):
    """Qualifying points, calendar year, no grace, one tier down."""
    return TierPolicyFactory()


@pytest.fixture
def ladder(db, programme, policy):
    return standard_ladder()


@pytest.fixture
def enrolled(clock):
    """A member enrolled on 10 January 2025 (before every purchase of the tests)."""
    return MemberFactory(enrolled_at=datetime(2025, 1, 10, 9, tzinfo=UTC))


def at(day: date, hour: int = 12) -> datetime:
    """Noon (or `hour`) London time on `day`."""
    return datetime.combine(day, time(hour), tzinfo=LONDON)
