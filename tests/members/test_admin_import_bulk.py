"""The admin import in bulk mode keeps the row-by-row report and the audit trail."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from import_export.formats.base_formats import CSV

import members.resources as member_resources
from members.identifiers import is_valid_member_number, luhn_check_digit, new_member_number
from members.models import Member
from members.services import member_enroll
from tests.factories.members import StoreFactory

pytestmark = pytest.mark.django_db
IMPORT_URL = reverse("admin:members_member_import")
HEADER = "member_number,first_name,last_name,email,phone,home_store\n"


def upload(client, text):
    return client.post(
        IMPORT_URL,
        {
            "resource": "0",
            "format": "0",
            "import_file": SimpleUploadedFile("m.csv", text.encode(), content_type="text/csv"),
        },
    )


def confirm(client, preview):
    return client.post(
        reverse("admin:members_member_process_import"), preview.context["confirm_form"].initial
    )


def test_unknown_store_and_taken_contact_are_row_errors(client, superuser):
    client.force_login(superuser)
    member_enroll(first_name="Old", email="taken@example.com", phone="+447911123400")
    member_enroll(first_name="Other", email="other@example.com")
    new_number = "100000001" + luhn_check_digit("100000001")
    csv = HEADER + (
        ",Good,Row,good@example.com,,\n"
        ",No,Store,,,NOPE\n"
        f"{new_number},New,Card,taken@example.com,,\n"  # new member, e-mail of Old
        ",Other,,other@example.com,07911 123400,\n"  # Other, given Old's phone
    )

    preview = upload(client, csv)

    invalid = {row.number: row.error_dict for row in preview.context["result"].invalid_rows}
    assert set(invalid) == {2, 3, 4}
    assert "Unknown store 'NOPE'." in str(invalid[2]["home_store"])
    assert "Another member already has this e-mail." in invalid[3]["email"]
    assert "Another member already has this phone number." in invalid[4]["phone"]
    assert Member.objects.count() == 2


def test_import_writes_history_with_user_and_the_preview_shows_values(client, superuser):
    client.force_login(superuser)
    StoreFactory(code="LDN01")
    old = member_enroll(first_name="Ann", email="ann@example.com")
    csv = HEADER + ",Jane,Doe,Jane@Example.com,07911 123456,LDN01\n,Annie,,ann@example.com,,\n"

    preview = upload(client, csv)
    rows = preview.context["result"].valid_rows()
    assert [row.import_type for row in rows] == ["new", "update"]
    assert "+447911123456" in rows[0].diff and "Jane@example.com" in rows[0].diff
    assert Member.objects.count() == 1  # the preview wrote nothing
    confirm(client, preview)

    jane = Member.objects.get(email="Jane@example.com")
    assert jane.home_store.code == "LDN01" and jane.enrolment_channel == "import"
    assert (jane.history.get().history_type, jane.history.get().history_user) == ("+", superuser)
    old.refresh_from_db()
    latest = old.history.latest()
    assert old.first_name == "Annie" and old.updated_at > old.created_at
    assert (latest.history_type, latest.history_change_reason) == ("~", "admin import")


def test_a_drawn_number_already_taken_is_drawn_again(monkeypatch):
    taken = member_enroll(first_name="Old").member_number
    clashes = iter([taken, taken])
    monkeypatch.setattr(
        member_resources, "new_member_number", lambda: next(clashes, None) or new_member_number()
    )
    dataset = CSV().create_dataset(HEADER + ",New,One,new@example.com,,\n")

    result = member_resources.MemberResource().import_data(dataset, dry_run=False)

    assert not result.has_errors() and result.totals["new"] == 1
    number = Member.objects.get(email="new@example.com").member_number
    assert number != taken and is_valid_member_number(number)


def test_a_file_without_status_leaves_a_suspended_member_suspended(client, superuser):
    from members.services import member_suspend

    client.force_login(superuser)
    kept = member_suspend(
        member=member_enroll(first_name="Sus", email="sus@example.com"), reason="fraud check"
    )
    csv = HEADER + ",Susan,,sus@example.com,,\n,New,Member,new@example.com,,\n"

    confirm(client, upload(client, csv))

    kept.refresh_from_db()
    assert (kept.first_name, kept.status) == ("Susan", Member.Status.SUSPENDED)
    assert Member.objects.get(email="new@example.com").status == Member.Status.ACTIVE


def test_a_status_change_by_import_is_a_row_error_and_changes_nothing(client, superuser):
    from members.services import member_suspend

    client.force_login(superuser)
    kept = member_suspend(
        member=member_enroll(first_name="Sus", email="sus@example.com"), reason="fraud check"
    )
    same = member_enroll(first_name="Ann", email="ann@example.com")
    csv = (
        "first_name,email,status\n"
        "Susan,sus@example.com,active\n"  # would reactivate without a reason
        "Annie,ann@example.com,Active\n"  # unchanged status (any case) is fine
        "Closed,closed@example.com,closed\n"  # a new member may arrive closed
    )

    preview = upload(client, csv)

    invalid = {row.number: row.error_dict for row in preview.context["result"].invalid_rows}
    assert set(invalid) == {1}
    assert "change a status on the member's page" in str(invalid[1]["status"])
    kept.refresh_from_db()
    assert (kept.first_name, kept.status) == ("Sus", Member.Status.SUSPENDED)
    assert same.status == Member.Status.ACTIVE


def test_a_file_without_email_and_phone_columns_keeps_the_members_own(client, superuser):
    """A names-only file (member_number, first_name) used to set every matched member's e-mail
    and phone to NULL: the missing columns were normalised to '' and imported as empty."""
    client.force_login(superuser)
    kept = member_enroll(first_name="Old", email="keep@example.com", phone="+447911123499")
    csv = f"member_number,first_name\n{kept.member_number},Renamed\n"

    confirm(client, upload(client, csv))

    kept.refresh_from_db()
    assert (kept.first_name, kept.email, kept.phone) == (
        "Renamed",
        "keep@example.com",
        "+447911123499",
    )


def test_an_empty_email_or_phone_cell_still_clears_it(client, superuser):
    client.force_login(superuser)
    member = member_enroll(first_name="Old", email="old@example.com", phone="+447911123498")
    csv = f"member_number,first_name,email,phone\n{member.member_number},Old,,\n"

    confirm(client, upload(client, csv))

    member.refresh_from_db()
    assert (member.email, member.phone) == (None, None)
