"""A marketing user, in a real browser: builds a segment and sees its count, creates a campaign
over it, launches it; a purchase through the API earns the bonus; the results show it. No
console errors on the way."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from campaigns.models import Campaign, Segment
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory, StoreFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "marketing-pass-123"


def test_marketing_user_runs_a_campaign_end_to_end(live_server, page, django_user_model, superuser):
    ProgrammeSettingsFactory()
    london = StoreFactory(code="LON", name="London")
    buyer = MemberFactory(home_store=london, first_name="Ada")
    MemberFactory(home_store=london)
    MemberFactory()
    user = django_user_model.objects.create_user(username="maria", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Marketing"))
    problems: list[str] = []

    def on_console(msg) -> None:  # the browser's own /favicon.ico request is not the page's
        if msg.type == "error" and "favicon.ico" not in (msg.location or {}).get("url", ""):
            problems.append(f"{msg.text} at {msg.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto(f"{live_server.url}/admin/login/?next=/admin/campaigns/segment/add/")
    page.fill("input[name=username]", "maria")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/campaigns/segment/add/")

    # 1. a segment, with its live count while editing
    page.fill("input[name=name]", "London shoppers")
    page.select_option("select[name=conditions-0-field]", "home_store")
    page.select_option("select[name=conditions-0-operator]", "is")
    page.fill("input[name=conditions-0-value]", "LON")
    page.wait_for_selector("#segment-live-count[data-count='2']")
    page.click("button[name=_save], input[name=_save]")
    page.wait_for_url("**/admin/campaigns/segment/")
    segment = Segment.objects.get(name="London shoppers")

    # 2. a campaign over it
    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.fill("input[name=name]", "London bonus")
    page.select_option("select[name=segment]", str(segment.pk))
    page.select_option("select[name=mechanic]", "fixed_bonus")
    page.fill("input[name=starts_at_0]", "2026-01-01")
    page.fill("input[name=starts_at_1]", "00:00:00")
    page.fill("input[name=ends_at_0]", "2030-01-01")
    page.fill("input[name=ends_at_1]", "00:00:00")
    page.fill("input[name=holdout_percent]", "0")
    page.fill("input[name=bonus_points]", "150")
    page.fill("input[name=min_spend]", "10")
    page.click("button[name=_save], input[name=_save]")
    page.wait_for_url("**/admin/campaigns/campaign/")
    campaign = Campaign.objects.get(name="London bonus")

    # 3. launch it from the list
    page.check(f"input[name=_selected_action][value='{campaign.pk}']")
    page.select_option("select[name=action]", "move_to_active")
    page.click(
        "button[type=submit][name=index], button[title='Run the selected action'], #changelist-form button[type=submit]"
    )
    page.wait_for_load_state("networkidle")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE

    # 4. a purchase through the API (a till's staff token) earns the bonus
    token, _ = Token.objects.get_or_create(user=superuser)
    response = page.request.post(
        f"{live_server.url}/api/v1/ledger/purchases/",
        headers={"Authorization": f"Token {token.key}"},
        data={"member_id": buyer.pk, "channel": "store", "external_id": "B-1", "amount": "20.00"},
    )
    assert response.status == 201, response.text()
    assert response.json()["balance"]["balance"] == 20 + 150

    # 5. the results show it
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    assert page.inner_text("#results-participants") == "1"
    assert page.inner_text("#results-points") == "150"
    assert page.inner_text("#results-targeted") == "2"
    page.wait_for_function("document.querySelector('#campaign-chart').width > 0")
    assert problems == []
