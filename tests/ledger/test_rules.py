"""The earning engine: order of steps, exclusions, multipliers, caps, contributors."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from loyalty.ledger import rules as engine
from loyalty.ledger.models import EarningRule
from loyalty.ledger.services import LineInput, earn_quote
from tests.factories.ledger import EarningRuleFactory, earn

pytestmark = pytest.mark.django_db


def quote(member, amount, **kwargs):
    return earn_quote(
        member=member, channel=kwargs.pop("channel", "store"), amount=Decimal(amount), **kwargs
    )


def test_base_rate_and_floor_per_transaction_not_per_line(programme, member):
    programme.points_per_unit = Decimal("1.5")
    programme.save()
    lines = [LineInput(sku="A", quantity=Decimal(1), unit_price=Decimal("0.99")) for _ in range(3)]

    result = quote(member, "2.97", lines=lines)

    assert (
        result.points == 4
    )  # floor(2.97 x 1.5 = 4.455); per line it would be 3 x floor(1.485) = 3


def test_excluded_categories_and_skus_earn_nothing(programme, member):
    programme.excluded_categories = ["gift_card"]
    programme.excluded_skus = ["TOBACCO-1"]
    programme.save()
    lines = [
        LineInput(sku="SHIRT", quantity=Decimal(1), unit_price=Decimal("30")),
        LineInput(sku="GC50", category="gift_card", quantity=Decimal(1), unit_price=Decimal("50")),
        LineInput(sku="TOBACCO-1", quantity=Decimal(1), unit_price=Decimal("20")),
    ]

    result = quote(member, "100", lines=lines)

    assert result.eligible_amount == Decimal("30.00") and result.points == 30


def test_discounted_bill_scales_the_lines(programme, member):
    lines = [LineInput(sku="A", quantity=Decimal(2), unit_price=Decimal("50"))]

    assert quote(member, "80", lines=lines).points == 80  # the member paid 80, not 100


def test_minimum_spend(programme, member):
    EarningRuleFactory(kind=EarningRule.Kind.MINIMUM_SPEND, multiplier=None, amount=Decimal("10"))

    assert quote(member, "9.99").points == 0
    assert quote(member, "10.00").points == 10  # the threshold is met at equality


def test_multipliers_by_channel_weekday_and_window(programme, member):
    EarningRuleFactory(name="web double", multiplier=Decimal("2"), channels=["web"])
    EarningRuleFactory(name="sunday", multiplier=Decimal("3"), weekdays=[6])
    EarningRuleFactory(
        name="october promo",
        multiplier=Decimal("10"),
        starts_at=datetime(2026, 10, 1, tzinfo=UTC),
        ends_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    sunday = datetime(2026, 11, 15, 12, tzinfo=UTC)
    monday = datetime(2026, 11, 16, 12, tzinfo=UTC)

    assert quote(member, "10", channel="web", occurred_at=monday).points == 20
    assert quote(member, "10", channel="web", occurred_at=sunday).points == 60
    assert quote(member, "10", channel="store", occurred_at=monday).points == 10


def test_category_multiplier_applies_to_its_lines_only(programme, member):
    EarningRuleFactory(name="shoes x3", multiplier=Decimal("3"), categories=["shoes"])
    lines = [
        LineInput(sku="S1", category="shoes", quantity=Decimal(1), unit_price=Decimal("40")),
        LineInput(sku="T1", category="tops", quantity=Decimal(1), unit_price=Decimal("60")),
    ]

    assert quote(member, "100", lines=lines).points == 40 * 3 + 60


def test_caps_per_transaction_and_per_day(programme, member):
    EarningRuleFactory(kind=EarningRule.Kind.CAP_TRANSACTION, multiplier=None, points=100)
    EarningRuleFactory(kind=EarningRule.Kind.CAP_DAY, multiplier=None, points=150)

    first = earn(member, "500")
    second = earn(member, "500")
    third = earn(member, "500")

    assert [first.points_earned, second.points_earned, third.points_earned] == [100, 50, 0]


def test_fixed_bonus_is_a_separate_uncapped_line(programme, member):
    EarningRuleFactory(
        kind=EarningRule.Kind.FIXED_BONUS, multiplier=None, points=25, name="welcome week"
    )
    EarningRuleFactory(kind=EarningRule.Kind.CAP_TRANSACTION, multiplier=None, points=5)

    result = earn(member, "10")

    kinds = sorted((e.kind, e.amount) for e in result.entries)
    assert kinds == [("bonus", 25), ("earn", 5)]
    assert result.points_earned == 30


def test_contributors_multiply_last_and_are_recorded(programme, member, monkeypatch):
    def gold_tier(ctx):
        return [
            engine.Contribution(source="tier:gold", label="Gold x1.5", multiplier=Decimal("1.5"))
        ]

    monkeypatch.setattr(engine, "CONTRIBUTORS", [gold_tier])
    EarningRuleFactory(name="double", multiplier=Decimal("2"))

    result = earn(member, "10.30")

    entry = result.entries[0]
    assert entry.amount == 30  # floor(10.30 x 2 x 1.5 = 30.9)
    assert {"source": "tier:gold", "name": "Gold x1.5", "multiplier": "1.5"} in entry.rules
    assert any(step.get("name") == "double" for step in entry.rules)


def test_after_posting_hooks_run_inside_the_posting(programme, member, monkeypatch):
    seen = []
    monkeypatch.setattr(
        engine,
        "AFTER_POSTING_HOOKS",
        [lambda transaction, result: seen.append((transaction.kind, result.points_earned))],
    )

    earn(member, "12")

    assert seen == [("purchase", 12)]


def test_rule_validation_names_the_field():
    from django.core.exceptions import ValidationError

    rule = EarningRule(name="x", kind=EarningRule.Kind.MULTIPLIER, weekdays=[9], channels=["fax"])
    with pytest.raises(ValidationError) as excinfo:
        rule.full_clean()
    assert {"multiplier", "weekdays", "channels"} <= set(excinfo.value.message_dict)


def test_a_last_hook_stays_after_hooks_registered_later(monkeypatch):
    monkeypatch.setattr(engine, "AFTER_POSTING_HOOKS", [])
    monkeypatch.setattr(engine, "_LAST_HOOKS", [])

    def first(**kw):
        pass

    def flush(**kw):
        pass

    def later(**kw):
        pass

    engine.register_after_posting_hook(first)
    engine.register_after_posting_hook(flush, last=True)
    engine.register_after_posting_hook(later)
    engine.register_after_posting_hook(later)  # once only

    assert [first, later, flush] == engine.AFTER_POSTING_HOOKS
