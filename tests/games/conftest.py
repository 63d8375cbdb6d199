import pytest

from loyalty.ledger.services import points_earn
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory


@pytest.fixture
def programme(db):
    return ProgrammeSettingsFactory()


def funded_member(points: int = 100):
    member = MemberFactory()
    points_earn(member=member, points=points, idempotency_key=f"fund:{member.pk}")
    return member


@pytest.fixture
def member(programme):
    return funded_member()
