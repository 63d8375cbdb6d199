"""The marketing and finance flows of the admin in a real browser (Debian chromium through
Playwright), at desktop and tablet (820x1180) widths: find a member by a phone typed the
national way and read their story; filter members by tier and balance; create a weekend
multiplier rule with the widgets and run the simulator on it (for a tier too); import a CSV
with one bad row, see the bad value beside its error and import the good rows without choosing
the file again; finance is offered only the actions it may run. Every flow fails on a console error or an unexpected 4xx/5xx response."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from loyalty.ledger.models import EarningRule
from loyalty.ledger.services import points_adjust
from loyalty.tiers.models import TierAssignment
from members.models import Member
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory, StoreFactory
from tests.factories.tiers import TierAssignmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "tablet": {"width": 820, "height": 1180}}
PASSWORD = "a-long-enough-pass-123"


class Watcher:
    """Console errors and 4xx/5xx responses seen by a page (deliberate ones are allowed)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.allowed: set[int] = set()
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        deliberate = any(f"status of {code} " in message.text for code in self.allowed)
        if message.type == "error" and not deliberate:
            self.errors.append(f"console: {message.text} at {message.location.get('url')}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.status not in self.allowed:
            self.errors.append(f"{response.status} {response.url}")


@pytest.fixture(params=list(VIEWPORTS))
def screen(request: Any, browser: Any) -> Iterator[tuple[Any, Watcher]]:
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    page = context.new_page()
    page.set_default_timeout(15_000)
    watcher = Watcher(page)
    yield page, watcher
    context.close()
    assert watcher.errors == []


def login(page: Any, live_server: Any, username: str, password: str, next_url: str) -> None:
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def test_find_a_member_by_national_phone_and_read_their_story(
    live_server, screen, superuser, busy_member
):
    page, _watcher = screen
    login(page, live_server, "boss", "boss-pass-123", "/admin/members/member/")

    search = page.locator("input[name=q]")
    search.fill("07911 100231")
    search.press("Enter")
    page.wait_for_url("**q=07911**")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    rows.first.get_by_role("link", name="Open").click()  # one click to the whole story

    page.wait_for_url(f"**/admin/members/member/{busy_member.pk}/story/")
    assert page.get_by_test_id("available").is_visible()
    timeline = page.get_by_test_id("timeline")
    assert timeline.get_by_text("Redeemed Free coffee").is_visible()
    assert timeline.locator("tr[data-kind=purchase]").count() == 2
    timeline.get_by_label("Consents").check()
    timeline.get_by_role("button", name="Show").click()
    page.wait_for_url("**kind=consent**")
    kinds = set(page.locator("tr[data-kind]").evaluate_all("rows => rows.map(r => r.dataset.kind)"))
    assert kinds == {"consent"}


@pytest.fixture
def crowd(programme, ladder, superuser):
    now = timezone.now()
    for name, tier, points in (
        ("Goldrich", "gold", 1500),
        ("Goldpoor", "gold", 100),
        ("Silverrich", "silver", 2000),
    ):
        member = MemberFactory(last_name=name)
        earn(member, "1.00", when=now - timedelta(days=70))
        points_adjust(
            member=member, points=points, reason="seed", actor=superuser, idempotency_key="s"
        )
        TierAssignment.objects.filter(member=member).delete()
        TierAssignmentFactory(member=member, tier=ladder[tier])


def test_filter_members_by_tier_and_balance(live_server, screen, superuser, crowd):
    page, _watcher = screen
    login(page, live_server, "boss", "boss-pass-123", "/admin/members/member/")

    for parameter, value in (("tier", "gold"), ("balance", "1000+")):
        open_filters = page.locator("a", has_text="Filters").first
        if not page.locator("#changelist-filter").is_visible():
            open_filters.click()  # below 2xl widths the filters are a sheet behind a button
        page.locator(f"a[href*='{parameter}={value.replace('+', '%2B')}']").first.click()
        page.wait_for_url(f"**{parameter}=**")

    names = page.locator("#result_list tbody tr").all_inner_texts()
    assert len(names) == 1 and "Goldrich" in names[0]
    assert "1,501" in names[0] and "Gold" in names[0]


def test_create_a_weekend_rule_with_the_widgets_and_simulate_it(
    live_server, screen, superuser, programme, ladder
):
    page, _watcher = screen
    StoreFactory(code="LDN01", name="Covent Garden")
    StoreFactory(code="LDN02", name="Canary Wharf")
    login(page, live_server, "boss", "boss-pass-123", "/admin/ledger/earningrule/add/")

    page.fill("input[name=name]", "Weekend x1.5")
    page.select_option("select[name=kind]", "multiplier")
    page.fill("input[name=multiplier]", "1.5")
    tags = page.locator("#id_categories_typer")  # the tag input that tags.js builds
    tags.fill("Coffee")
    tags.press("Enter")
    tags.fill("Tea")
    tags.press("Enter")
    assert page.locator(".bo-tag").count() == 2
    page.get_by_label("Saturday").check()
    page.get_by_label("Sunday").check()
    page.get_by_label("LDN01 Covent Garden").check()
    page.locator("button[name=_save], input[name=_save]").first.click()
    page.wait_for_url("**/admin/ledger/earningrule/")

    rule = EarningRule.objects.get()
    assert rule.categories == ["Coffee", "Tea"] and rule.weekdays == [5, 6]
    assert rule.store_codes == ["LDN01"]
    listed = page.locator("#result_list").inner_text()
    assert "x1.5 points, on category Coffee and Tea, on Saturday and Sunday, at store LDN01" in (
        listed
    )

    page.get_by_role("link", name="Rule simulator").first.click()
    page.wait_for_url("**/simulate/")
    today = timezone.localdate()
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    page.select_option("select[name=store]", "LDN01")
    page.fill("input[name=occurred_at]", f"{saturday:%Y-%m-%d}T11:00")
    page.fill("input[name=line0_sku]", "FLAT-WHITE")
    page.fill("input[name=line0_category]", "Coffee")
    page.fill("input[name=line0_quantity]", "2")
    page.fill("input[name=line0_price]", "10.00")
    page.get_by_role("button", name="Simulate").click()

    result = page.get_by_test_id("simulation-result")
    result.wait_for()
    assert "Earns 30 points" in result.inner_text()
    assert "Weekend x1.5: x1.5" in page.get_by_test_id("applied-rules").inner_text()

    # the same basket for a tier instead of a member: the gold multiplier applies on top
    page.select_option("select[name=tier]", "gold")
    page.get_by_role("button", name="Simulate").click()
    page.wait_for_url("**tier=gold**")
    assert "Earns 45 points" in page.get_by_test_id("simulation-result").inner_text()
    applied = page.get_by_test_id("applied-rules").inner_text()
    assert "Weekend x1.5: x1.5" in applied and "Gold tier: x1.5" in applied


BAD_ROW_CSV = (
    "member_number,first_name,last_name,email,phone,home_store\n"
    ",Ada,Lovelace,ada@example.com,07911 123456,\n"
    ",Grace,Hopper,grace@@navy,,\n"
)


def test_import_a_csv_with_a_bad_row_and_reuse_the_kept_file(
    live_server, screen, superuser, programme, ladder, tmp_path
):
    page, _watcher = screen
    csv_path = tmp_path / "members.csv"
    csv_path.write_text(BAD_ROW_CSV)
    login(page, live_server, "boss", "boss-pass-123", "/admin/members/member/import/")

    page.set_input_files("input[name=import_file]", str(csv_path))
    page.select_option("select[name=format]", label="csv")
    page.click("form:has(input[name=import_file]) [type=submit]")

    cell = page.locator("td[data-error-field=email]")
    cell.wait_for()
    assert cell.locator(".import-value").inner_text() == "grace@@navy"  # not blanked
    assert "valid" in cell.locator(".import-error").inner_text()
    assert (
        "Kept from your last try: members.csv"
        in page.locator("form:has(input[name=import_file])").inner_text()
    )
    assert Member.objects.count() == 0

    # tick "skip bad rows" and submit the same form: no file chosen, the kept one is used
    page.get_by_label("Skip bad rows").check()
    page.click("form:has(input[name=import_file]) [type=submit]")
    page.locator("[data-state=skip]").wait_for()
    assert "email: Enter a valid" in page.locator("[data-state=skip]").inner_text()
    assert page.locator("[data-state=new]").count() == 1
    page.click("form:has(input[name=import_file_name]) [type=submit]")
    page.wait_for_url("**/admin/members/member/")
    assert list(Member.objects.values_list("last_name", flat=True)) == ["Lovelace"]


def test_finance_is_offered_only_the_actions_it_may_run(
    live_server, screen, django_user_model, busy_member
):
    page, watcher = screen
    user = django_user_model.objects.create_user("finance", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Finance"))
    login(page, live_server, "finance", PASSWORD, "/admin/members/member/")

    actions = page.locator("select[name=action] option").all_inner_texts()
    offered = {a.strip() for a in actions if a.strip() and not a.startswith("-")}
    offered -= {"Select action"}  # the placeholder
    assert offered == {"Export personal data (JSON)"}
    assert page.get_by_role("link", name="Add member").count() == 0
    # no System group: no link to the technical apps anywhere on the page
    for app in ("django_celery_beat", "authtoken", "axes", "integrations"):
        assert page.locator(f"a[href^='/admin/{app}/']").count() == 0, app
    assert page.locator("a[href='/admin/ledger/earningrule/simulate/']").count() >= 1

    # the story page is read-only for finance: no edit forms, but the whole story
    page.goto(f"{live_server.url}/admin/members/member/{busy_member.pk}/story/")
    assert page.get_by_test_id("timeline").is_visible()
    assert page.get_by_role("link", name="Edit profile and run actions").count() == 0
    page.get_by_role("link", name="Full member record").click()
    page.wait_for_url(f"**/admin/members/member/{busy_member.pk}/change/")
    assert page.locator("button[name=_save], input[name=_save]").count() == 0  # view only
    # a page finance may not open answers 403, and that is the only 4xx of the flow
    watcher.allowed.add(403)
    response = page.goto(f"{live_server.url}/admin/ledger/earningrule/add/")
    assert response.status == 403
