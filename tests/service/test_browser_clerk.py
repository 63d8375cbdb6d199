"""The clerk screen's "Suggest to this customer" panel in a real browser (Debian chromium
through Playwright), on the hand-computed baskets of conftest.py; no console errors."""

from typing import Any

import pytest

from campaigns.service.services import bought_together_rebuild
from loyalty.ledger.services import points_earn
from rewards.models import Reward
from tests.clerk.conftest import make_clerk
from tests.factories.members import StoreFactory
from tests.factories.rewards import RewardFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_clerk_screen_suggests_products_and_rewards(
    live_server: Any, page: Any, baskets: Any, django_user_model: Any
) -> None:
    bought_together_rebuild()
    m = baskets["m"]
    points_earn(member=m, points=115, idempotency_key="seed")  # 140 available
    RewardFactory(
        code="free-e",
        name="Free E",
        kind=Reward.Kind.FREE_PRODUCT,
        product_sku="E",
        points_cost=120,
    )
    RewardFactory(
        code="free-c",
        name="Free C",
        kind=Reward.Kind.FREE_PRODUCT,
        product_sku="C",
        points_cost=150,
    )
    make_clerk(django_user_model, "till", StoreFactory(code="LDN01"), restricted=False)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto(f"{live_server.url}/clerk/login/")
    page.fill("input[name=username]", "till")
    page.fill("input[name=password]", "till-pass-123")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/clerk/")
    page.goto(f"{live_server.url}/clerk/members/{m.pk}/")
    page.get_by_role("link", name="Suggest").click()

    panel = page.get_by_test_id("suggestions")
    assert panel.get_by_role("heading", name="Suggest to this customer").is_visible()
    products = panel.get_by_role("list", name="Suggested products").locator("li")
    assert products.count() == 2
    assert [products.nth(i).get_attribute("data-sku") for i in range(2)] == ["C", "D"]
    assert "often bought with A, B, which they bought" in products.nth(0).inner_text()
    rewards = panel.get_by_role("list", name="Suggested rewards").locator("li")
    assert rewards.count() == 2
    assert "Free E" in rewards.nth(0).inner_text()
    assert "Can redeem now" in rewards.nth(0).inner_text()
    assert "10 points to go" in rewards.nth(1).inner_text()
    assert problems == []
