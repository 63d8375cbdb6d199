"""A marketing user records a member joining the paid club and reads the donation totals, in a
real browser, with no console error."""

import pytest
from django.contrib.auth.models import Group

from campaigns.membership.models import ClubMembership
from loyalty.core.roles import roles_setup
from loyalty.ledger.services import points_earn
from rewards.models import Reward
from rewards.services import redemption_create
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.factories.membership import ClubPlanFactory
from tests.factories.rewards import CauseFactory, RewardFactory, RewardsSettingsFactory

# PostgreSQL pass only, like the dashboard's: live-server pages that query a lot have hung on
# SQLite in whole-suite runs (tests/analytics/test_browser_dashboard.py).
pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def test_join_the_club_and_read_the_donation_totals(live_server, page, django_user_model):
    ProgrammeSettingsFactory()
    RewardsSettingsFactory()
    roles_setup()
    member = MemberFactory()
    points_earn(member=member, points=500, idempotency_key="seed")
    plan = ClubPlanFactory(code="plus", name="Plus club")
    trees = CauseFactory(code="trees", name="Trees for Cities")
    give = RewardFactory(code="give", kind=Reward.Kind.DONATION, points_cost=100)
    redemption_create(member=member, reward=give, cause=trees, quantity=2)
    user = django_user_model.objects.create_user(
        username="marketing", password="marketing-pass-123", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Marketing"))
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/admin/login/?next=/admin/membership/clubmembership/add/")
    page.fill("input[name=username]", "marketing")
    page.fill("input[name=password]", "marketing-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/membership/clubmembership/add/")

    page.fill("input[name=member]", member.member_number)
    page.select_option("select[name=plan]", str(plan.pk))
    page.fill("input[name=payment_reference]", "PSP-0001")
    page.fill("input[name=amount]", "36.50")
    page.click("#join-form button[type=submit]")
    page.wait_for_url("**/admin/membership/clubmembership/*/change/")
    assert "joined Plus club" in page.content()
    assert ClubMembership.objects.get().member == member

    page.goto(f"{live_server.url}/admin/rewards/cause/totals/")
    page.select_option("select[name=period]", "year")
    page.click("#donation-totals-form button[type=submit]:not([name])")
    page.wait_for_selector("#donation-totals tbody tr")
    row = page.locator("#donation-totals tbody tr").first.inner_text()
    assert "Trees for Cities" in row and "200" in row
    assert errors == []
