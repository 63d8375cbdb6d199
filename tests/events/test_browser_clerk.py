"""A clerk checks a member in at an event in a real browser (Debian chromium): the Events today
page lists the event, the scanned card checks the member in with the points, a second scan says
"already checked in" and changes nothing. No console error on the way."""

from typing import Any

import pytest
from django.contrib.auth.models import Group

from campaigns.events.models import EventCheckIn
from loyalty.ledger.selectors import account_balance
from members.models import StaffProfile
from tests.factories.engagement import BadgeRuleFactory
from tests.factories.events import OpenEventFactory
from tests.factories.members import MemberFactory, StoreFactory
from tests.factories.rewards import RewardsSettingsFactory

# PostgreSQL pass only, like the other live-server clerk pages (tests/engagement/test_browser_clerk.py)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def till_event(django_user_model: Any, programme: Any) -> Any:
    from loyalty.core.roles import roles_setup

    roles_setup()
    RewardsSettingsFactory()
    store = StoreFactory(code="LDN01", name="London Covent Garden")
    user = django_user_model.objects.create_user(username="till", password="till-pass-123")
    user.groups.add(Group.objects.get(name="Store clerk"))
    StaffProfile.objects.create(user=user, store=store, restricted_to_store=False)
    BadgeRuleFactory(code="event-goer", name="Event goer", kind="event", threshold=1)
    return OpenEventFactory(name="Cheese tasting", store=store, points=50, capacity=20)


def test_clerk_checks_a_member_in_at_an_event(live_server, page, till_event):
    member = MemberFactory(first_name="Ada", last_name="Lovelace")
    problems: list[str] = []
    allowed: set[int] = set()  # the deliberate 400 of the refused second scan, once armed

    def on_console(msg: Any) -> None:
        deliberate = any(f"status of {code} " in msg.text for code in allowed)
        url = (msg.location or {}).get("url", "")
        if msg.type == "error" and "favicon.ico" not in url and not deliberate:
            problems.append(f"{msg.text} at {msg.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto(f"{live_server.url}/clerk/login/")
    page.fill("input[name=username]", "till")
    page.fill("input[name=password]", "till-pass-123")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/clerk/")
    page.get_by_role("link", name="Events today").click()
    page.wait_for_url(f"{live_server.url}/clerk/events/")

    panel = page.get_by_test_id("events-check-in")
    assert "Cheese tasting" in panel.get_by_test_id("event-row").inner_text()
    page.get_by_label("Member's card number").fill(member.member_number)
    page.get_by_role("button", name="Check in").click()
    page.locator("#result").wait_for()
    assert "Ada Lovelace is checked in at Cheese tasting." in page.locator("#result").inner_text()
    assert "50 points credited." in page.locator("#result").inner_text()
    assert page.get_by_test_id("checked-in").inner_text() == "1"

    # the same card again: said in words (the form comes back with a 400), nothing changes
    allowed.add(400)
    page.get_by_label("Member's card number").fill(member.member_number)
    page.get_by_role("button", name="Check in").click()
    page.get_by_role("alert").filter(has_text="Already checked in").wait_for()
    assert EventCheckIn.objects.filter(event=till_event, member=member).count() == 1
    assert account_balance(member=member).available == 50
    assert problems == []
