"""The screenshots of docs/admin.md, taken by headless chromium on demo-like data.

Skipped unless DOCS_SCREENSHOTS=1 (they rewrite files under docs/img/):
    DOCS_SCREENSHOTS=1 uv run --frozen pytest tests/backoffice/test_browser_screenshots.py
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories.ledger import EarningRuleFactory
from tests.factories.members import StoreFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("DOCS_SCREENSHOTS") != "1", reason="set DOCS_SCREENSHOTS=1 to retake"
    ),
]
IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def test_take_the_admin_guide_screenshots(live_server, browser, superuser, busy_member, tmp_path):
    StoreFactory(code="LDN02", name="Canary Wharf")
    rule = EarningRuleFactory(
        name="Weekend x1.5", multiplier=Decimal("1.5"), weekdays=[5, 6], categories=["Coffee"]
    )
    IMG.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 1000})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "boss-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")

    page.goto(f"{live_server.url}/admin/members/member/{busy_member.pk}/story/")
    page.screenshot(path=str(IMG / "admin-member-story.png"), full_page=True)

    page.set_viewport_size({"width": 1366, "height": 1850})  # the whole form, no sticky bar
    page.goto(f"{live_server.url}/admin/ledger/earningrule/{rule.pk}/change/")
    page.screenshot(path=str(IMG / "admin-rule-form.png"))
    page.set_viewport_size({"width": 1366, "height": 1000})

    today = timezone.localdate()
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    page.goto(
        f"{live_server.url}/admin/ledger/earningrule/simulate/?channel=store&store=LDN01"
        f"&occurred_at={saturday:%Y-%m-%d}T11:00&line0_sku=FLAT-WHITE&line0_category=Coffee"
        "&line0_quantity=2&line0_price=3.20&line1_sku=CROISSANT&line1_category=Bakery"
        "&line1_quantity=1&line1_price=2.50&tier=gold"
    )
    page.get_by_test_id("simulation-result").wait_for()
    page.screenshot(path=str(IMG / "admin-rule-simulator.png"), full_page=True)

    # the import preview: a refused value beside its error, and the file kept for the retry
    csv_path = tmp_path / "customers.csv"
    csv_path.write_text(
        "member_number,first_name,last_name,email,phone,home_store\n"
        f"{busy_member.member_number},Ada,Lovelace,ada@example.com,+447911100231,LDN01\n"
        ",Grace,Hopper,grace@@navy,,LDN01\n"
        ",Alan,Turing,alan@example.com,07911 123456,LDN02\n"
    )
    page.goto(f"{live_server.url}/admin/members/member/import/")
    page.set_input_files("input[name=import_file]", str(csv_path))
    page.select_option("select[name=format]", label="csv")
    page.click("form:has(input[name=import_file]) [type=submit]")
    page.locator("td[data-error-field=email]").wait_for()
    page.screenshot(path=str(IMG / "admin-import-errors.png"), full_page=True)
    # the same file again, bad rows skipped: unchanged, skipped with its reason, new
    page.get_by_label("Skip bad rows").check()
    page.click("form:has(input[name=import_file]) [type=submit]")
    page.locator("[data-state=skip]").wait_for()
    page.screenshot(path=str(IMG / "admin-import-preview.png"), full_page=True)
    context.close()


def test_take_the_member_events_screenshots(live_server, browser, superuser, django_user_model):
    """docs/events.md: the clerk's Events today panel after a check-in, and the admin list."""
    from django.contrib.auth.models import Group

    from loyalty.core.roles import roles_setup
    from members.models import StaffProfile
    from tests.factories.engagement import EngagementSettingsFactory
    from tests.factories.events import EventFactory, EventRSVPFactory, OpenEventFactory
    from tests.factories.ledger import ProgrammeSettingsFactory
    from tests.factories.members import MemberFactory
    from tests.factories.rewards import RewardsSettingsFactory

    roles_setup()
    ProgrammeSettingsFactory()
    RewardsSettingsFactory()
    EngagementSettingsFactory()
    store = StoreFactory(code="LDN01", name="London Covent Garden")
    user = django_user_model.objects.create_user(username="till", password="till-pass-123")
    user.groups.add(Group.objects.get(name="Store clerk"))
    StaffProfile.objects.create(user=user, store=store, restricted_to_store=False)
    opening = OpenEventFactory(
        name="Covent Garden opening", kind="store_opening", store=store, capacity=40, points=100
    )
    tasting = EventFactory(name="Autumn coffee tasting", store=store, capacity=2)
    for status in ("confirmed", "confirmed", "waitlisted"):
        EventRSVPFactory(event=tasting, status=status)
    member = MemberFactory(first_name="Ada", last_name="Lovelace", home_store=store)
    EventRSVPFactory(event=opening)
    IMG.mkdir(parents=True, exist_ok=True)

    context = browser.new_context(viewport={"width": 1100, "height": 700})
    page = context.new_page()
    page.goto(f"{live_server.url}/clerk/login/")
    page.fill("input[name=username]", "till")
    page.fill("input[name=password]", "till-pass-123")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/clerk/")
    page.goto(f"{live_server.url}/clerk/events/")
    page.get_by_label("Member's card number").fill(member.member_number)
    page.get_by_role("button", name="Check in").click()
    page.locator("#result").wait_for()
    page.screenshot(path=str(IMG / "clerk-events-check-in.png"), full_page=True)
    context.close()

    context = browser.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "boss-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
    page.goto(f"{live_server.url}/admin/events/event/")
    page.screenshot(path=str(IMG / "admin-events.png"), full_page=True)
    context.close()


def test_take_the_programme_extras_screenshots(live_server, browser, superuser):
    """docs/sweepstakes.md, prize-wheel.md, paid-membership.md and donations.md: a drawn
    sweepstake with its winners and revealed seed, a wheel with its odds, the club plans and the
    donation totals."""
    from campaigns.games.services import sweepstake_draw, sweepstake_enter
    from loyalty.ledger.services import points_earn
    from rewards.models import Cause, Reward
    from rewards.services import redemption_create
    from tests.factories.games import PrizeWheelFactory, WheelPrizeFactory, sweepstake
    from tests.factories.ledger import ProgrammeSettingsFactory
    from tests.factories.members import MemberFactory
    from tests.factories.membership import ClubPlanFactory, joined
    from tests.factories.rewards import CauseFactory, RewardFactory, RewardsSettingsFactory

    ProgrammeSettingsFactory()
    RewardsSettingsFactory()
    names = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Katherine Johnson", "Tim Berners"]
    members = []
    for n, name in enumerate(names):
        first, last = name.split()
        member = MemberFactory(first_name=first, last_name=last)
        points_earn(member=member, points=2000, idempotency_key=f"shot:{n}")
        members.append(member)

    draw = sweepstake(name="Summer draw", winners=2, prize_points=250)
    for n, member in enumerate(members):
        sweepstake_enter(sweepstake=draw, member=member, idempotency_key=f"e{n}", paid=False)
    type(draw).objects.filter(pk=draw.pk).update(draw_at=timezone.now() - timedelta(minutes=1))
    draw.refresh_from_db()
    sweepstake_draw(sweepstake=draw)

    wheel = PrizeWheelFactory(name="Lucky wheel", spin_cost=20)
    WheelPrizeFactory(wheel=wheel, label="100 points", points=100, weight=5)
    WheelPrizeFactory(wheel=wheel, label="500 points", points=500, weight=1, stock=10)
    WheelPrizeFactory(wheel=wheel, label="Try again", points=0, kind="nothing", weight=14)

    plan = ClubPlanFactory(code="plus", name="Plus club")
    for member in members[:3]:
        joined(member, plan)

    trees = CauseFactory(code="trees", name="Trees for Cities", kind=Cause.Kind.TREES)
    CauseFactory(code="ocean", name="Ocean clean-up", matching=Cause.Matching.DOUBLE)
    donate = RewardFactory(code="donate", kind=Reward.Kind.DONATION, points_cost=100)
    for member in members:
        redemption_create(member=member, reward=donate, cause=trees, quantity=2)

    IMG.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "boss-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
    for url, image in (
        (f"/admin/games/sweepstake/{draw.pk}/change/", "admin-sweepstake-drawn.png"),
        (f"/admin/games/prizewheel/{wheel.pk}/change/", "admin-prize-wheel.png"),
        ("/admin/membership/clubplan/", "admin-club-plans.png"),
        (reverse("admin:rewards_cause_totals"), "admin-donation-totals.png"),
    ):
        page.goto(f"{live_server.url}{url}")
        page.screenshot(path=str(IMG / image), full_page=True)
    context.close()
