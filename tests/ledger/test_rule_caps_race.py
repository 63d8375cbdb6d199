"""Usage caps and single-use promo codes under racing purchases (PostgreSQL row locks)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from loyalty.ledger.models import EarningRule, EarningRuleUse, PromoCode, Transaction
from loyalty.ledger.services import ledger_reconcile, purchase_record
from tests.concurrency import run_threads
from tests.factories.ledger import EarningRuleFactory, ProgrammeSettingsFactory
from tests.factories.members import MemberFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
BONUS = EarningRule.Kind.FIXED_BONUS


def buy(member, index, **kwargs):
    return purchase_record(
        member=member,
        channel="store",
        external_id=f"RACE-{index}",
        occurred_at=timezone.now(),
        amount=Decimal("10.00"),
        **kwargs,
    )


def test_racing_purchases_of_different_members_never_exceed_the_total_cap():
    ProgrammeSettingsFactory()
    rule = EarningRuleFactory(kind=BONUS, multiplier=None, points=50, max_uses_total=3)
    members = [MemberFactory() for _ in range(10)]

    outcomes = run_threads(10, lambda i: buy(members[i], i).points_earned)

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert sorted(value for _, value in outcomes) == [10] * 7 + [60] * 3
    assert EarningRuleUse.objects.filter(rule=rule).count() == 3
    assert ledger_reconcile() == []


def test_racing_purchases_of_one_member_never_exceed_the_per_member_caps():
    ProgrammeSettingsFactory()
    lifetime = EarningRuleFactory(kind=BONUS, multiplier=None, points=50, max_uses_per_member=2)
    weekly = EarningRuleFactory(
        multiplier=Decimal("2"), max_uses_per_period=1, usage_period=EarningRule.UsagePeriod.WEEK
    )
    member = MemberFactory()

    outcomes = run_threads(8, lambda i: buy(member, i).points_earned)

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert EarningRuleUse.objects.filter(rule=lifetime).count() == 2
    assert EarningRuleUse.objects.filter(rule=weekly).count() == 1
    assert sum(value for _, value in outcomes) == 8 * 10 + 2 * 50 + 10
    assert ledger_reconcile() == []


def test_a_single_use_code_sent_by_racing_tills_is_used_once():
    ProgrammeSettingsFactory()
    rule = EarningRuleFactory(kind=BONUS, multiplier=None, points=100, requires_promo_code=True)
    PromoCode.objects.create(code="ONCE", rule=rule, max_uses=1)
    members = [MemberFactory() for _ in range(6)]

    outcomes = run_threads(6, lambda i: buy(members[i], i, promo_code="ONCE").points_earned)

    ok = [value for kind, value in outcomes if kind == "ok"]
    refused = [value for kind, value in outcomes if kind == "error"]
    assert ok == [110]
    assert len(refused) == 5 and all(isinstance(e, ValidationError) for e in refused)
    assert Transaction.objects.count() == 1
    assert Transaction.objects.get().promo_code.code == "ONCE"
