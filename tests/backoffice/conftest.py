from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.ledger.services import points_adjust, return_record
from members.services import member_enroll, member_suspend
from rewards.services import voucher_consume
from tests.factories.ledger import ProgrammeSettingsFactory, earn
from tests.factories.members import StoreFactory
from tests.factories.rewards import RewardFactory, RewardsSettingsFactory, redeemed
from tests.factories.tiers import TierPolicyFactory, standard_ladder


@pytest.fixture
def programme(db):
    return ProgrammeSettingsFactory()


@pytest.fixture
def ladder(db):
    TierPolicyFactory()
    return standard_ladder()


@pytest.fixture
def busy_member(programme, ladder, superuser):
    """A member with one of everything the timeline shows: enrolment and consents, purchases,
    a return, a redemption and its voucher used, a tier upgrade, a staff adjustment and a
    status change."""
    store = StoreFactory(code="LDN01", name="Covent Garden")
    RewardsSettingsFactory()
    member = member_enroll(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        phone="+447911100231",
        home_store=store,
        consents={"email": True, "sms": False},
        actor=superuser,
    )
    now = timezone.now()
    first = earn(member, "120.00", when=now - timedelta(days=3), store=store, external_id="R-1")
    earn(member, "30.00", when=now - timedelta(days=2), store=store, external_id="R-2")
    return_record(
        channel="store",
        external_id="RET-1",
        occurred_at=now - timedelta(days=1),
        amount=Decimal("20.00"),
        original=first.transaction,
        member=member,
        store=store,
    )
    reward = RewardFactory(name="Free coffee", points_cost=50)
    redemption = redeemed(member=member, reward=reward, idempotency_key="red-1")
    voucher_consume(code=redemption.voucher.code, order_ref="ORDER-9", store=store)
    points_adjust(
        member=member, points=7, reason="goodwill", actor=superuser, idempotency_key="adj-1"
    )
    member_suspend(member=member, reason="lost card", actor=superuser)
    return member
