"""A clerk opens a member in a real browser (Debian chromium): the member card shows the stage,
the streak, progress bars towards the next badge and the next reward, and the badges earned; a
purchase at the till that completes a badge shows it at once. No console error on the way."""

from typing import Any

import pytest
from django.contrib.auth.models import Group

from members.models import StaffProfile
from tests.factories.engagement import BadgeRuleFactory, EngagementSettingsFactory
from tests.factories.ledger import ProgrammeSettingsFactory, earn
from tests.factories.members import MemberFactory, StoreFactory
from tests.factories.rewards import RewardFactory, RewardsSettingsFactory

# PostgreSQL pass only, like the other live-server pages that query a lot (see
# tests/analytics/test_browser_dashboard.py: SQLite live-server queries hung in whole-suite runs)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def till_member(django_user_model: Any) -> Any:
    from loyalty.core.roles import roles_setup

    roles_setup()
    ProgrammeSettingsFactory()
    RewardsSettingsFactory()
    EngagementSettingsFactory()
    store = StoreFactory(code="LDN01")
    user = django_user_model.objects.create_user(username="till", password="till-pass-123")
    user.groups.add(Group.objects.get(name="Store clerk"))
    StaffProfile.objects.create(user=user, store=store, restricted_to_store=False)
    BadgeRuleFactory(code="first", name="First visit", kind="first_purchase", threshold=1)
    BadgeRuleFactory(code="regular", name="Regular", kind="purchases", threshold=3)
    RewardFactory(name="Free coffee", points_cost=150)
    member = MemberFactory(first_name="Ada", last_name="Lovelace", home_store=store)
    earn(member, "15.00")
    earn(member, "15.00")
    return member


def test_clerk_screen_shows_progress_bars_and_badges(live_server, page, till_member):
    problems: list[str] = []

    def on_console(msg: Any) -> None:
        if msg.type == "error" and "favicon.ico" not in (msg.location or {}).get("url", ""):
            problems.append(f"{msg.text} at {msg.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto(f"{live_server.url}/clerk/login/")
    page.fill("input[name=username]", "till")
    page.fill("input[name=password]", "till-pass-123")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/clerk/")
    page.goto(f"{live_server.url}/clerk/members/{till_member.pk}/")

    panel = page.get_by_test_id("engagement")
    assert page.get_by_test_id("stage").inner_text() == "New"
    assert "1 month in a row with a purchase" in panel.inner_text()
    badge_bar = page.get_by_role("progressbar", name="Progress to the Regular badge")
    assert badge_bar.get_attribute("aria-valuenow") == "66"
    assert "1 to go for the Regular badge" in panel.inner_text()
    reward_bar = page.get_by_role("progressbar", name="Progress to Free coffee")
    assert reward_bar.get_attribute("aria-valuenow") == "20"
    assert "120 points to Free coffee" in panel.inner_text()
    assert page.get_by_test_id("earned-badges").inner_text().split("\n") == ["First visit"]
    box = badge_bar.locator("span").bounding_box()
    assert box is not None and box["width"] > 0  # the bar is drawn, not only in the markup

    # a purchase at the till completes the Regular badge: shown on the page it returns to
    page.get_by_label("Amount paid (GBP)").fill("15.00")
    page.get_by_label("Receipt number", exact=True).fill("R-3")
    page.get_by_role("button", name="Record purchase").click()
    page.locator("#result").wait_for()
    badges = page.get_by_test_id("earned-badges").inner_text().split("\n")
    assert sorted(badges) == ["First visit", "Regular"]
    assert problems == []
