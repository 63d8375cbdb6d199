"""Issue #16: multiplier 0, bonus filters, tier always recorded, priority and stop, conditions,
promo codes, usage caps (races in test_rule_caps_race.py), capped points in the result."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from loyalty.ledger.models import EarningRule, EarningRuleUse, LedgerEntry, PromoCode, Transaction
from loyalty.ledger.services import LineInput, earn_quote
from tests.factories.ledger import EarningRuleFactory, earn
from tests.factories.members import MemberFactory
from tests.factories.tiers import TierPolicyFactory, standard_ladder

pytestmark = pytest.mark.django_db
MULTIPLIER, BONUS = EarningRule.Kind.MULTIPLIER, EarningRule.Kind.FIXED_BONUS


def line(sku, price, quantity=1, category=""):
    return LineInput(
        sku=sku, quantity=Decimal(quantity), unit_price=Decimal(price), category=category
    )


def bonus_rule(**kwargs):
    return EarningRuleFactory(
        kind=BONUS, multiplier=None, points=kwargs.pop("points", 50), **kwargs
    )


def entry_of(result, kind):
    return next(e for e in result.entries if e.kind == kind)


# -- item 1: multiplier 0 ----------------------------------------------------------------------


def test_a_whole_basket_multiplier_of_zero_earns_nothing(programme, member):
    EarningRuleFactory(name="Promo store earns nothing", multiplier=Decimal("0"))

    result = earn(member, "40.00")

    assert result.points_earned == 0 and result.transaction.points_earned == 0
    assert {"rule": EarningRule.objects.get().pk, "name": "Promo store earns nothing",
            "multiplier": "0.00"} in result.rules  # fmt: skip


def test_a_category_multiplier_of_zero_zeroes_only_its_lines(programme, member):
    EarningRuleFactory(name="Gift cards", multiplier=Decimal("0"), categories=["gift_card"])

    result = earn(
        member, "80.00", lines=[line("SHIRT", "30"), line("GC50", "50", category="gift_card")]
    )

    assert result.points_earned == 30


def test_zero_and_not_set_are_different_in_the_model(programme):
    zero = EarningRuleFactory(multiplier=Decimal("0"))
    zero.refresh_from_db()
    assert zero.multiplier == Decimal("0") and zero.multiplier is not None
    unset = EarningRule(name="x", kind=MULTIPLIER, multiplier=None)
    with pytest.raises(ValidationError) as err:
        unset.full_clean()
    assert "multiplier" in err.value.message_dict


# -- item 2: fixed bonus with a product filter ------------------------------------------------


def test_a_fixed_bonus_for_a_product_needs_that_product_in_the_basket(programme, member):
    rule = bonus_rule(name="Buy a lantern, get 50", skus=["LANTERN"])

    without = earn(member, "10.00", lines=[line("MUG", "10")])
    with_it = earn(member, "15.00", lines=[line("MUG", "10"), line("LANTERN", "5", 1)])
    no_lines = earn(member, "15.00")

    assert without.points_earned == 10 and no_lines.points_earned == 15
    assert with_it.points_earned == 15 + 50
    bonus = entry_of(with_it, "bonus")
    assert bonus.rules == [
        {
            "source": f"rule:{rule.pk}",
            "name": "Buy a lantern, get 50",
            "lines": [{"sku": "LANTERN", "quantity": "1", "amount": "5.00"}],
        }
    ]
    assert bonus.rules[0] in with_it.rules  # the purchase's explanation names the line too


def test_a_fixed_bonus_by_category(programme, member):
    bonus_rule(categories=["toys"], points=20)

    assert earn(member, "5.00", lines=[line("CAR", "5", category="toys")]).points_earned == 25
    assert earn(member, "5.00", lines=[line("PEN", "5", category="office")]).points_earned == 5


# -- item 8: the tier is recorded even at x1 ----------------------------------------------------


def test_the_earn_entry_names_the_tier_when_its_multiplier_is_one(programme, member):
    TierPolicyFactory()
    standard_ladder()  # entry tier "member" earns x1

    result = earn(member, "20.00")

    rules = entry_of(result, "earn").rules
    assert {"source": "tier:member", "name": "Member tier", "multiplier": "1.00"} in rules
    assert result.points_earned == 20


# -- item 10: priority and stop ----------------------------------------------------------------


def test_priority_orders_rules_and_stop_further_skips_lower_ones(programme, member):
    first = EarningRuleFactory(
        name="Double", multiplier=Decimal("2"), priority=10, stop_further=True
    )
    later = EarningRuleFactory(name="Triple", multiplier=Decimal("3"), priority=20)
    bonus = bonus_rule(name="Bonus", points=5, priority=30)

    result = earn(member, "10.00")

    assert result.points_earned == 20  # x2 only; no x3, no bonus
    skipped = [r for r in result.rules if r.get("skipped") == "stopped"]
    assert [(r["rule"], r["by"]) for r in skipped] == [(later.pk, first.pk), (bonus.pk, first.pk)]

    first.stop_further = False
    first.save()
    assert earn(member, "10.00").points_earned == 60 + 5


def test_a_stop_rule_that_does_not_apply_stops_nothing(programme, member):
    EarningRuleFactory(multiplier=Decimal("0"), skus=["GIFTCARD"], priority=1, stop_further=True)
    EarningRuleFactory(multiplier=Decimal("2"), priority=5)

    assert earn(member, "10.00", lines=[line("MUG", "10")]).points_earned == 20
    assert earn(member, "10.00", lines=[line("GIFTCARD", "10")]).points_earned == 0


def test_stop_further_does_not_lift_caps_or_minimum_spend(programme, member):
    EarningRuleFactory(multiplier=Decimal("5"), priority=1, stop_further=True)
    EarningRuleFactory(
        kind=EarningRule.Kind.CAP_TRANSACTION, multiplier=None, points=30, priority=9
    )
    EarningRuleFactory(
        kind=EarningRule.Kind.MINIMUM_SPEND, multiplier=None, amount=Decimal("5"), priority=9
    )

    assert earn(member, "4.00").points_earned == 0
    capped = earn(member, "10.00")
    assert capped.points_earned == 30


# -- item 7: capped points and rules in the result ---------------------------------------------


def test_points_withheld_by_caps_are_returned_and_stored(programme, member):
    EarningRuleFactory(kind=EarningRule.Kind.CAP_TRANSACTION, multiplier=None, points=100)

    result = earn(member, "250.00")

    assert result.points_earned == 100 and result.points_uncollected == 150
    assert result.transaction.points_uncollected == 150
    assert Transaction.objects.get(pk=result.transaction.pk).points_uncollected == 150
    replay = earn(member, "250.00", external_id=result.transaction.external_id)
    assert replay.created is False and replay.points_uncollected == 150


# -- item 11: conditions -----------------------------------------------------------------------


def test_minimum_quantity_of_matching_items(programme, member):
    bonus_rule(name="Buy 3 shirts", categories=["shirts"], min_quantity=Decimal("3"), points=30)

    two = earn(member, "20.00", lines=[line("S1", "10", 2, "shirts")])
    three = earn(
        member, "30.00", lines=[line("S1", "10", 2, "shirts"), line("S2", "10", 1, "shirts")]
    )

    assert two.points_earned == 20
    assert three.points_earned == 30 + 30
    assert {"rule": EarningRule.objects.get().pk, "name": "Buy 3 shirts",
            "skipped": "min_quantity"} in two.rules  # fmt: skip


def test_minimum_amount_of_matching_items(programme, member):
    EarningRuleFactory(
        multiplier=Decimal("2"), categories=["shoes"], min_matching_amount=Decimal("50")
    )

    low = earn(member, "70.00", lines=[line("SH", "40", 1, "shoes"), line("T", "30")])
    high = earn(member, "80.00", lines=[line("SH", "50", 1, "shoes"), line("T", "30")])

    assert low.points_earned == 70
    assert high.points_earned == 80 + 50  # the shoes' 50 earn double


def test_presence_of_a_product(programme, member):
    EarningRuleFactory(name="Buy X, double all", multiplier=Decimal("2"), required_skus=["X"])

    assert earn(member, "10.00", lines=[line("Y", "10")]).points_earned == 10
    assert earn(member, "12.00", lines=[line("Y", "10"), line("X", "2")]).points_earned == 24


# -- item 11: promo codes ----------------------------------------------------------------------


@pytest.fixture
def promo_rule(programme):
    return bonus_rule(name="Spring promo", points=100, requires_promo_code=True)


def test_a_rule_that_requires_a_code_applies_only_with_it(promo_rule, member):
    PromoCode.objects.create(code="SPRING", rule=promo_rule)

    plain = earn(member, "10.00")
    coded = earn(member, "10.00", promo_code="spring")  # case does not matter

    assert plain.points_earned == 10
    assert coded.points_earned == 110
    assert coded.transaction.promo_code.code == "SPRING"
    assert plain.transaction.promo_code is None


def test_a_single_use_code_is_refused_the_second_time_and_nothing_is_written(promo_rule, member):
    PromoCode.objects.create(code="ONCE", rule=promo_rule, max_uses=1)
    earn(member, "10.00", promo_code="ONCE", external_id="A")
    before = (Transaction.objects.count(), LedgerEntry.objects.count())

    with pytest.raises(ValidationError) as err:
        earn(member, "10.00", promo_code="ONCE", external_id="B")

    assert err.value.message_dict == {"promo_code": ["This promo code has been used up."]}
    assert (Transaction.objects.count(), LedgerEntry.objects.count()) == before
    assert earn(member, "10.00", promo_code="ONCE", external_id="A").created is False  # replay


def test_a_multi_use_code_counts_its_uses(promo_rule):
    code = PromoCode.objects.create(code="MANY", rule=promo_rule)
    for n in range(3):
        earn(MemberFactory(), "10.00", promo_code="MANY", external_id=f"M{n}")

    assert code.transactions.count() == 3


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({}, "Unknown promo code."),
        ({"active": False}, "This promo code is not active."),
        (
            {"ends_at": datetime(2020, 1, 1, tzinfo=UTC)},
            "This promo code is not valid at this time.",
        ),
    ],
)
def test_unusable_codes_are_field_errors(promo_rule, member, setup, message):
    if setup:
        PromoCode.objects.create(code="BAD", rule=promo_rule, **setup)

    with pytest.raises(ValidationError) as err:
        earn(member, "10.00", promo_code="BAD")

    assert err.value.message_dict == {"promo_code": [message]}
    assert not Transaction.objects.exists()


def test_a_code_whose_rule_did_not_apply_is_not_used(programme, member):
    rule = bonus_rule(requires_promo_code=True, min_matching_amount=Decimal("50"))
    code = PromoCode.objects.create(code="BIG", rule=rule, max_uses=1)

    small = earn(member, "10.00", promo_code="BIG")

    assert small.points_earned == 10 and small.transaction.promo_code is None
    assert earn(member, "60.00", promo_code="BIG").points_earned == 60 + 50
    assert code.transactions.count() == 1


def test_promo_code_constraints():
    rule = bonus_rule(requires_promo_code=True)
    with pytest.raises(ValidationError) as err:
        PromoCode(
            code="X",
            rule=rule,
            max_uses=0,
            starts_at=datetime(2026, 2, 1, tzinfo=UTC),
            ends_at=datetime(2026, 1, 1, tzinfo=UTC),
        ).full_clean()
    assert {"max_uses", "ends_at"} <= set(err.value.message_dict)
    with pytest.raises(IntegrityError), transaction.atomic():
        PromoCode.objects.create(code="Y", rule=rule, max_uses=0)


# -- item 12: usage caps -----------------------------------------------------------------------


def test_total_usage_cap(programme):
    bonus_rule(name="First two purchases", points=10, max_uses_total=2)

    results = [earn(MemberFactory(), "5.00") for _ in range(3)]

    assert [r.points_earned for r in results] == [15, 15, 5]
    assert {"rule": EarningRule.objects.get().pk, "name": "First two purchases",
            "skipped": "usage_cap"} in results[2].rules  # fmt: skip
    assert EarningRuleUse.objects.count() == 2


def test_per_member_usage_cap(programme, member):
    bonus_rule(points=10, max_uses_per_member=1)

    assert earn(member, "5.00").points_earned == 15
    assert earn(member, "5.00").points_earned == 5
    assert earn(MemberFactory(), "5.00").points_earned == 15


def test_per_member_per_period_usage_cap(programme, member):
    EarningRuleFactory(multiplier=Decimal("2"), max_uses_per_period=2, usage_period="week")
    monday = datetime(2026, 11, 23, 10, tzinfo=UTC)

    week1 = [
        earn(member, "10.00", when=monday + timedelta(days=d)).points_earned for d in (0, 2, 6)
    ]
    week2 = earn(member, "10.00", when=monday + timedelta(days=7)).points_earned

    assert week1 == [20, 20, 10]
    assert week2 == 20


def test_a_capped_rule_left_out_lets_the_lower_rules_apply(programme, member):
    EarningRuleFactory(
        multiplier=Decimal("3"), priority=1, stop_further=True, max_uses_per_member=1
    )
    EarningRuleFactory(multiplier=Decimal("2"), priority=2)

    assert earn(member, "10.00").points_earned == 30
    assert earn(member, "10.00").points_earned == 20


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"max_uses_total": 0}, {"max_uses_total"}),
        ({"max_uses_per_member": 0}, {"max_uses_per_member"}),
        ({"max_uses_per_period": 2}, {"usage_period"}),
        ({"usage_period": "week"}, {"max_uses_per_period"}),
        (
            {
                "starts_at": datetime(2026, 2, 1, tzinfo=UTC),
                "ends_at": datetime(2026, 1, 1, tzinfo=UTC),
            },
            {"ends_at"},
        ),
    ],
)
def test_contradictory_rules_are_refused(fields, errors):
    rule = EarningRule(name="x", kind=MULTIPLIER, multiplier=Decimal("2"), **fields)
    with pytest.raises(ValidationError) as err:
        rule.full_clean()
    assert errors <= set(err.value.message_dict)


def test_caps_and_conditions_only_on_multiplier_and_bonus_rules():
    rule = EarningRule(
        name="x",
        kind=EarningRule.Kind.CAP_TRANSACTION,
        points=10,
        max_uses_total=5,
        stop_further=True,
    )
    with pytest.raises(ValidationError) as err:
        rule.full_clean()
    assert {"max_uses_total", "stop_further"} <= set(err.value.message_dict)


def test_the_quote_matches_the_purchase_under_caps_and_codes(promo_rule, member):
    PromoCode.objects.create(code="Q", rule=promo_rule)
    bonus_rule(points=7, max_uses_per_member=1)
    earn(member, "10.00")

    quote = earn_quote(member=member, channel="store", amount=Decimal("10"), promo_code="Q")

    assert quote.total == earn(member, "10.00", promo_code="Q").points_earned == 110
