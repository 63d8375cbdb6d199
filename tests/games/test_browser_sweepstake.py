"""A marketing user, in a real browser: creates a sweepstake with a prize in the admin, and
once entries are in (services) and the draw date has passed, runs "Run the draw" from the list
and sees the winners and the revealed seed. No console errors on the way."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from campaigns.games.draw import seed_fingerprint
from campaigns.games.models import Sweepstake, SweepstakeEntry
from campaigns.games.services import sweepstake_enter
from loyalty.core.roles import roles_setup
from loyalty.ledger.models import PointsAccount
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "marketing-pass-123"


def test_marketing_creates_a_sweepstake_and_runs_its_draw(live_server, page, django_user_model):
    ProgrammeSettingsFactory()
    roles_setup()
    user = django_user_model.objects.create_user(username="maria", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Marketing"))
    problems: list[str] = []

    def on_console(msg) -> None:  # the browser's own /favicon.ico request is not the page's
        if msg.type == "error" and "favicon.ico" not in (msg.location or {}).get("url", ""):
            problems.append(f"{msg.text} at {msg.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/games/sweepstake/add/")
    page.fill("input[name=username]", "maria")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/games/sweepstake/add/")

    # 1. the sweepstake, with a first prize
    draw_on = timezone.localtime() + timedelta(days=7)
    page.fill("input[name=name]", "Summer draw")
    page.fill("input[name=entry_cost]", "0")
    page.fill("input[name=max_entries_per_member]", "2")
    page.fill("input[name=draw_at_0]", draw_on.strftime("%Y-%m-%d"))
    page.fill("input[name=draw_at_1]", "12:00:00")
    page.fill("input[name=winners]", "2")
    page.fill("input[name=prize_points]", "50")
    page.fill("input[name=prizes-0-rank]", "1")
    page.fill("input[name=prizes-0-label]", "First prize: 1000 points")
    page.select_option("select[name=prizes-0-kind]", "points")
    page.fill("input[name=prizes-0-points]", "1000")
    page.fill("input[name=prizes-0-quantity]", "1")
    page.click("button[name=_save], input[name=_save]")
    page.wait_for_url("**/admin/games/sweepstake/")
    draw = Sweepstake.objects.get(name="Summer draw")
    assert draw.prizes.get().points == 1000
    assert draw.seed_sha256 == seed_fingerprint(draw.seed)

    # 2. entries come in (services), then the draw date passes
    members = [MemberFactory() for _ in range(4)]
    for i, member in enumerate(members):
        sweepstake_enter(sweepstake=draw, member=member, idempotency_key=f"b{i}", paid=False)
    page.goto(f"{live_server.url}/admin/games/sweepstake/{draw.pk}/change/")
    assert draw.seed_sha256 in page.content() and draw.seed not in page.content()
    Sweepstake.objects.filter(pk=draw.pk).update(draw_at=timezone.now() - timedelta(minutes=1))

    # 3. run the draw from the list
    page.goto(f"{live_server.url}/admin/games/sweepstake/")
    page.check(f"input[name=_selected_action][value='{draw.pk}']")
    page.select_option("select[name=action]", "run_draw")
    page.click(
        "button[type=submit][name=index], button[title='Run the selected action'], "
        "#changelist-form button[type=submit]"
    )
    page.wait_for_load_state("networkidle")
    assert "2 winner(s) drawn" in page.content()

    # 4. the winners and the revealed seed on its page
    page.goto(f"{live_server.url}/admin/games/sweepstake/{draw.pk}/change/")
    draw.refresh_from_db()
    assert draw.seed in page.content()
    rows = page.locator("#sweepstake-winners tbody tr").all_inner_texts()
    winners = SweepstakeEntry.objects.filter(sweepstake=draw, won=True).order_by("place")
    assert len(rows) == 2
    assert "First prize: 1000 points" in rows[0] and winners[0].member.member_number in rows[0]
    assert winners[1].member.member_number in rows[1] and "50" in rows[1]
    assert PointsAccount.objects.get(member=winners[0].member).balance == 1000
    assert problems == []
