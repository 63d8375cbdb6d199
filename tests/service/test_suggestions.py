"""Products bought together and suggestions on the hand-computed basket set of conftest.py."""

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from campaigns.service.models import BoughtTogether, ProductStats
from campaigns.service.selectors import (
    bought_together_for_sku,
    member_product_suggestions,
    member_reward_suggestions,
    member_soon_points,
    member_suggestions,
)
from campaigns.service.services import bought_together_rebuild
from loyalty.core.periodic import REGISTRY
from loyalty.ledger.services import points_earn
from rewards.models import Reward
from tests.factories.rewards import RewardFactory

pytestmark = pytest.mark.django_db


def table() -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for row in BoughtTogether.objects.order_by("sku", "rank"):
        out.setdefault(row.sku, []).append((row.other_sku, row.purchases))
    return out


def test_bought_together_counts_purchases_holding_both(baskets: Any) -> None:
    written = bought_together_rebuild()

    assert table() == {
        "A": [("B", 3), ("C", 2), ("D", 1)],
        "B": [("A", 3), ("C", 1), ("D", 1)],  # C and D tie: by sku
        "C": [("A", 2), ("B", 1), ("D", 1)],
        "D": [("A", 1), ("B", 1), ("C", 1)],
        "E": [("Z", 1)],
        "Z": [("E", 1)],
    }
    assert written == 14
    # postage is excluded by the programme; the return against P3 did not add an A-D purchase
    assert not BoughtTogether.objects.filter(other_sku="POST").exists()
    assert dict(ProductStats.objects.values_list("sku", "purchases")) == {
        "A": 4,
        "B": 4,
        "C": 2,
        "D": 2,
        "E": 1,
        "Z": 1,
    }
    assert ProductStats.objects.get(sku="Z").category == "garden"
    assert [r.rank for r in bought_together_for_sku(sku="B")] == [1, 2, 3]


def test_top_n_per_product_cuts_ties_by_sku_and_a_rebuild_replaces_the_table(
    baskets: Any,
) -> None:
    bought_together_rebuild(top=2, batch=1)  # one product per statement: batches join up
    assert table()["B"] == [("A", 3), ("C", 1)]
    assert table()["D"] == [("A", 1), ("B", 1)]

    bought_together_rebuild()
    bought_together_rebuild()  # re-running gives the same table, no duplicates
    assert table()["B"] == [("A", 3), ("C", 1), ("D", 1)]
    assert BoughtTogether.objects.count() == 14


def test_the_command_builds_the_table_and_the_nightly_job_is_scheduled(baskets: Any) -> None:
    out = StringIO()
    call_command("build_bought_together", stdout=out, stderr=StringIO())
    assert "14 bought-together rows written" in out.getvalue()
    assert BoughtTogether.objects.filter(sku="A").count() == 3
    spec = REGISTRY["Build products bought together"]
    assert spec.task == "campaigns.service.tasks.bought_together_rebuild_task"

    from campaigns.service.tasks import bought_together_rebuild_task

    assert bought_together_rebuild_task.delay().get() == 14


def test_products_suggested_to_a_member_who_buys_a_and_b_often(baskets: Any) -> None:
    bought_together_rebuild()
    # M bought A and B in two purchases each: "often", so never suggested.
    # C: 2 (with A) + 1 (with B) = 3; D: 1 (with A) + 1 (with B) = 2.
    suggestions = member_product_suggestions(member=baskets["m"])
    assert [(s.sku, s.score, s.because) for s in suggestions] == [
        ("C", 3, ["A", "B"]),
        ("D", 2, ["A", "B"]),
    ]
    assert suggestions[0].category == "home"


def test_products_bought_once_may_come_back(baskets: Any) -> None:
    bought_together_rebuild()
    # N bought B and D once (P4). From B: A 3, C 1, D 1; from D: A 1, B 1, C 1.
    # A = 4, C = 2, B = 1, D = 1 (B before D by sku); nothing is bought often.
    suggestions = member_product_suggestions(member=baskets["n"])
    assert [(s.sku, s.score) for s in suggestions] == [("A", 4), ("C", 2), ("B", 1), ("D", 1)]
    assert suggestions[0].because == ["B", "D"]
    # with "often" at one purchase, what N bought is left out
    assert [s.sku for s in member_product_suggestions(member=baskets["n"], often=1)] == [
        "A",
        "C",
    ]


def test_a_member_without_purchases_gets_no_product_suggestions(programme: Any) -> None:
    from tests.factories.members import MemberFactory

    assert member_product_suggestions(member=MemberFactory()) == []


def test_rewards_suggested_are_reachable_and_fit_what_the_member_buys(baskets: Any) -> None:
    bought_together_rebuild()
    m = baskets["m"]
    # P2 earned 10 points, P5 15: an average purchase is 12 points ("soon" = short by <= 12)
    assert member_soon_points(member=m) == 12
    points_earn(member=m, points=115, idempotency_key="seed")  # 25 + 115 = 140 available
    generic = RewardFactory(code="five-off", name="5 off", kind=Reward.Kind.GIFT, points_cost=100)
    free_c = RewardFactory(
        code="free-c", kind=Reward.Kind.FREE_PRODUCT, product_sku="C", points_cost=150
    )
    free_e = RewardFactory(
        code="free-e", kind=Reward.Kind.FREE_PRODUCT, product_sku="E", points_cost=120
    )
    RewardFactory(  # garden: M never buys that category
        code="free-z", kind=Reward.Kind.FREE_PRODUCT, product_sku="Z", points_cost=50
    )
    RewardFactory(code="far", kind=Reward.Kind.GIFT, points_cost=10_000)  # not soon
    RewardFactory(  # 16 short: more than one average purchase
        code="free-a", kind=Reward.Kind.FREE_PRODUCT, product_sku="A", points_cost=156
    )

    rewards = member_reward_suggestions(member=m, limit=10, suggested_skus=["C", "D"])
    # product matches first: E (category "home", which M buys) redeemable now, C (suggested
    # to M) 10 short; then the reward for any basket
    assert [(r.reward.code, r.can_redeem, r.points_short, r.matches) for r in rewards] == [
        ("free-e", True, 0, "product"),
        ("free-c", False, 10, "product"),
        ("five-off", True, 0, "any"),
    ]
    assert rewards[0].reward == free_e and rewards[1].reward == free_c
    assert rewards[2].reward == generic

    both = member_suggestions(member=m, rewards=2)
    assert [p.sku for p in both.products] == ["C", "D"]
    assert [r.reward.code for r in both.rewards] == ["free-e", "free-c"]
    assert both.soon_points == 12


def test_the_member_suggestions_command_prints_what_the_screen_shows(baskets: Any) -> None:
    bought_together_rebuild()
    out = StringIO()
    call_command("member_suggestions", baskets["m"].member_number, "--sku", "B", stdout=out)
    text = out.getvalue()
    assert "Bought together with B:\n  1. A  3 purchases\n  2. C  1 purchases" in text
    assert "C  score 3  because A, B" in text
    assert "'soon' = at most 12 points short" in text
