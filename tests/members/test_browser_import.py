"""A staff user imports members through the admin's preview/confirm flow in a real browser."""

import pytest

from members.models import Member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    "member_number,first_name,last_name,email,phone,home_store\n"
    ",Ada,Lovelace,ada@example.com,07911 123456,\n"
    ",Alan,Turing,alan@example.com,,\n"
)


def test_admin_csv_import_preview_then_confirm(live_server, page, superuser, tmp_path):
    csv_path = tmp_path / "members.csv"
    csv_path.write_text(CSV)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/members/member/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "boss-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/members/member/")

    page.goto(f"{live_server.url}/admin/members/member/import/")
    page.set_input_files("input[name=import_file]", str(csv_path))
    page.select_option("select[name=format]", label="csv")
    page.click("form:has(input[name=import_file]) [type=submit]")

    page.wait_for_selector("text=Lovelace")  # the preview lists the rows
    assert Member.objects.count() == 0  # a preview writes nothing
    page.click("form:has(input[name=import_file_name]) [type=submit]")

    page.wait_for_url("**/admin/members/member/")
    assert page.locator("#result_list").get_by_text("Lovelace").count() == 1
    assert page.locator("#result_list").get_by_text("Turing").count() == 1
    assert Member.objects.filter(enrolment_channel="import").count() == 2


BAD_ROW_CSV = (
    "member_number,first_name,last_name,email,phone,home_store\n"
    ",Ada,Lovelace,ada@example.com,07911 123456,\n"
    ",Grace,Hopper,grace@@navy,,\n"
)


def test_a_bad_row_shows_the_value_typed_beside_its_error(live_server, page, superuser, tmp_path):
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    csv_path = tmp_path / "members.csv"
    csv_path.write_text(BAD_ROW_CSV)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/members/member/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "boss-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/members/member/")
    page.goto(f"{live_server.url}/admin/members/member/import/")
    page.set_input_files("input[name=import_file]", str(csv_path))
    page.select_option("select[name=format]", label="csv")
    page.click("form:has(input[name=import_file]) [type=submit]")

    cell = page.locator("td[data-error-field=email]")
    cell.wait_for()
    assert cell.locator(".import-value").inner_text() == "grace@@navy"  # not blanked
    assert "valid" in cell.locator(".import-error").inner_text()
    assert cell.is_visible()
    # no confirm for the whole file; only the offer to import the good rows of the kept file
    assert page.locator("form:not(.retry-skip-bad-rows) input[name=import_file_name]").count() == 0
    assert page.locator("form.retry-skip-bad-rows button").is_visible()
    assert Member.objects.count() == 0
    assert problems == []
