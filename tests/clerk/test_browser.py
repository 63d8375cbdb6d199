"""The clerk flows in a real browser (Debian chromium through Playwright): a scanner typing a
card number and Enter, a purchase and the new balance, a reward and its voucher code, a wrong
card number, and the whole purchase done with the keyboard only."""

import pytest

from loyalty.ledger.models import Transaction
from loyalty.ledger.services import points_earn
from members.identifiers import luhn_check_digit
from rewards.models import Voucher
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, live_server):
    page.goto(f"{live_server.url}/clerk/login/")
    page.fill("input[name=username]", "till")
    page.fill("input[name=password]", "till-pass-123")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/clerk/")
    # the search box has the cursor as soon as the page is ready (autofocus)
    page.wait_for_function("document.activeElement && document.activeElement.id === 'q'")


def test_scanning_a_card_opens_the_member(live_server, page, clerk_user, member):
    login(page, live_server)
    # the search box has the focus: a keyboard-wedge scanner types the number, then Enter
    page.keyboard.type(member.member_number, delay=5)
    page.keyboard.press("Enter")

    page.wait_for_url(f"**/clerk/members/{member.pk}/")
    assert page.locator("h1").inner_text() == "Ada Lovelace"
    assert page.locator(".card-number").inner_text() == member.member_number
    assert page.locator("svg.barcode").count() == 1


def test_a_wrong_card_number_shows_a_clear_message(live_server, page, clerk_user, member):
    payload = "987654321"
    wrong = payload + luhn_check_digit(payload)
    login(page, live_server)
    page.keyboard.type(wrong, delay=5)
    page.keyboard.press("Enter")

    page.wait_for_url(f"**/clerk/?q={wrong}")  # the results page, not the as-you-type list
    notice = page.locator(".notice")
    notice.wait_for()
    assert notice.inner_text() == (
        f"No member with card number {wrong}. Check the number or search by name, phone or e-mail."
    )


def test_recording_a_purchase_shows_the_new_balance(live_server, page, clerk_user, member):
    points_earn(member=member, points=100, idempotency_key="seed")
    login(page, live_server)
    page.goto(f"{live_server.url}/clerk/members/{member.pk}/")
    assert page.get_by_test_id("available-points").inner_text() == "100"

    page.get_by_label("Amount paid (GBP)").fill("25.00")
    page.get_by_label("Receipt number", exact=True).fill("R-2001")
    page.get_by_role("button", name="Record purchase").click()

    result = page.locator("#result")
    result.wait_for()
    assert "Purchase of £25.00 recorded (receipt R-2001)." in result.inner_text()
    assert "New balance: 125 points available." in result.inner_text()
    assert page.get_by_test_id("available-points").inner_text() == "125"
    assert Transaction.objects.get().external_id == "R-2001"


def test_redeeming_a_reward_shows_the_voucher_code(live_server, page, clerk_user, member):
    points_earn(member=member, points=1000, idempotency_key="seed")
    RewardFactory(name="Free coffee", points_cost=150)
    login(page, live_server)
    page.goto(f"{live_server.url}/clerk/members/{member.pk}/")

    page.locator(".offer", has_text="Free coffee").get_by_role("button", name="Redeem").click()

    code = page.locator("#result .voucher-code")
    code.wait_for()
    voucher = Voucher.objects.get()
    assert code.inner_text() == voucher.display_code
    assert float(code.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 32
    assert page.get_by_test_id("available-points").inner_text() == "850"


def test_keyboard_only_find_a_member_and_record_a_purchase(live_server, page, clerk_user, member):
    MemberFactory(first_name="Adam", last_name="Smith")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    login(page, live_server)

    # as you type: the results appear without pressing Enter (htmx)
    page.keyboard.type("Lovel", delay=20)
    page.locator("#results a.result").first.wait_for()
    page.keyboard.press("Tab")  # the Find button
    page.keyboard.press("Tab")  # the first result
    assert page.evaluate("document.activeElement.className") == "result"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/clerk/members/{member.pk}/")

    # the amount box has the cursor: type, Tab to the receipt, Tab to the button, Enter
    page.wait_for_function("document.activeElement.id === 'purchase-amount'")
    page.keyboard.type("12.50")
    page.keyboard.press("Tab")
    page.keyboard.type("R-3001")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Record purchase"
    page.keyboard.press("Enter")

    page.locator("#result").wait_for()
    assert "New balance: 12 points available." in page.locator("#result").inner_text()
    txn = Transaction.objects.get()
    assert (txn.external_id, str(txn.amount)) == ("R-3001", "12.50")
    # htmx and the styles come from our own static files: nothing leaves the machine
    assert any(url.endswith("/static/vendor/htmx/htmx.min.js") for url in requested)
    own = live_server.url.split("://", 1)[1]
    assert [url for url in requested if url.split("://", 1)[1].split("/")[0] != own] == []


def test_the_clerk_flow_in_chinese(live_server, browser, clerk_user, programme, store):
    """Switch to Chinese on the login page, find a member, record a purchase, redeem a reward:
    every label, button and answer in Chinese, money with the programme's ¥, no console error.
    The screenshot of docs/clerk.md is taken here (DOCS_SCREENSHOTS=1 writes it to docs/img)."""
    import os
    from pathlib import Path

    programme.currency = "CNY"
    programme.time_zone = "Asia/Shanghai"
    programme.save()
    member = MemberFactory(first_name="王美玲", last_name="", home_store=store)
    points_earn(member=member, points=1000, idempotency_key="seed")
    RewardFactory(name="免费咖啡", points_cost=150)
    context = browser.new_context(viewport={"width": 1280, "height": 1100}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto(f"{live_server.url}/clerk/login/")
    assert page.locator("h1").inner_text() == "Log in to the till"
    page.get_by_test_id("language-zh-hans").click()
    page.wait_for_url(f"{live_server.url}/clerk/login/")
    assert page.locator("h1").inner_text() == "登录收银台"
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.get_by_label("用户名").fill("till")
    page.get_by_label("密码").fill("till-pass-123")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/clerk/")

    # find the member: the scanner types the card number and Enter
    page.wait_for_function("document.activeElement && document.activeElement.id === 'q'")
    page.keyboard.type(member.member_number, delay=5)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/clerk/members/{member.pk}/")
    assert page.get_by_test_id("available-points").inner_text() == "1,000"

    # record a purchase
    page.get_by_label("支付金额（CNY）").fill("1234.50")
    page.get_by_label("小票号", exact=True).fill("SH-0001")
    page.get_by_role("button", name="记录消费").click()
    result = page.locator("#result")
    result.wait_for()
    assert "已记录 ¥1,234.50 的消费（小票 SH-0001）。" in result.inner_text()
    assert "新余额：可用 2,234 积分。" in result.inner_text()

    # redeem a reward: the voucher code in large type
    page.locator(".offer", has_text="免费咖啡").get_by_role("button", name="兑换").click()
    page.locator("#result .voucher-code").wait_for()
    assert "已兑换“免费咖啡”。请将此优惠券代码交给会员：" in page.locator("#result").inner_text()
    assert page.locator("#result .voucher-code").inner_text() == Voucher.objects.get().display_code
    assert page.get_by_test_id("available-points").inner_text() == "2,084"
    assert problems == []

    if os.environ.get("DOCS_SCREENSHOTS") == "1":
        image = Path(__file__).resolve().parents[2] / "docs" / "img" / "clerk-zh-hans.png"
        page.screenshot(path=str(image), full_page=True)
    context.close()
