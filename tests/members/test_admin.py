"""The members admin: list, import preview/confirm, bad rows, actions."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from members.models import Member
from members.services import member_enroll
from tests.factories.members import StoreFactory

pytestmark = pytest.mark.django_db
IMPORT_URL = reverse("admin:members_member_import")


def upload(client, text, name="members.csv"):
    return client.post(
        IMPORT_URL,
        {
            "resource": "0",
            "format": "0",
            "import_file": SimpleUploadedFile(name, text.encode(), content_type="text/csv"),
        },
    )


def test_changelist_search_and_filters(client, superuser):
    client.force_login(superuser)
    member_enroll(first_name="Jane", last_name="Zephyr", email="jane@example.com")

    page = client.get(
        reverse("admin:members_member_changelist"), {"q": "Zephyr", "status": "active"}
    )

    assert page.status_code == 200
    assert b"Zephyr" in page.content


def test_member_page_shows_consent_and_history(client, superuser):
    client.force_login(superuser)
    member = member_enroll(first_name="Jane", consents={"email": True})

    page = client.get(reverse("admin:members_member_change", args=[member.pk]))

    assert page.status_code == 200
    assert b"Consent history" in page.content and b"Member history" in page.content


def test_import_preview_writes_nothing_until_confirmed(client, superuser):
    client.force_login(superuser)
    StoreFactory(code="LDN01")
    csv = "member_number,first_name,last_name,email,phone,home_store\n,Jane,Doe,jane@example.com,07911 123456,LDN01\n"

    preview = upload(client, csv)

    assert preview.status_code == 200
    assert b"Confirm import" in preview.content or b"confirm" in preview.content.lower()
    assert Member.objects.count() == 0
    confirm_form = preview.context["confirm_form"]
    done = client.post(reverse("admin:members_member_process_import"), confirm_form.initial)
    assert done.status_code == 302
    member = Member.objects.get()
    assert member.phone == "+447911123456" and member.enrolment_channel == "import"


def test_import_bad_rows_are_listed_with_row_and_reason(client, superuser):
    client.force_login(superuser)
    csv = (
        "member_number,first_name,last_name,email,phone,home_store\n"
        ",Good,Row,good@example.com,,\n"
        ",Bad,Mail,not-an-email,,\n"
        ",Bad,Phone,,12,\n"
        "1234567890,Bad,Card,,,\n"
    )

    preview = upload(client, csv)

    result = preview.context["result"]
    assert result.has_validation_errors()
    invalid = {row.number: row.error_dict for row in result.invalid_rows}
    assert set(invalid) == {2, 3, 4}
    assert "email" in invalid[2] and "phone" in invalid[3] and "member_number" in invalid[4]
    assert "confirm_form" not in preview.context or preview.context["confirm_form"] is None
    assert Member.objects.count() == 0


def test_reimport_of_the_same_file_changes_nothing(client, superuser):
    client.force_login(superuser)
    csv = (
        "member_number,first_name,last_name,email,phone,home_store\n,Jane,Doe,jane@example.com,,\n"
    )
    first = upload(client, csv)
    client.post(
        reverse("admin:members_member_process_import"), first.context["confirm_form"].initial
    )
    before = list(Member.objects.values())

    second = upload(client, csv)

    totals = second.context["result"].totals
    assert totals["skip"] == 1 and totals["new"] == 0 and totals["update"] == 0
    assert list(Member.objects.values()) == before


def test_erase_action_asks_for_confirmation_first(client, superuser):
    client.force_login(superuser)
    member = member_enroll(first_name="Jane", email="jane@example.com")
    url = reverse("admin:members_member_changelist")
    data = {"action": "erase_members", "_selected_action": [member.pk]}

    asked = client.post(url, data)
    member.refresh_from_db()
    assert asked.status_code == 200 and b"cannot be undone" in asked.content
    assert member.email == "jane@example.com"

    client.post(url, {**data, "confirm": "yes"})
    member.refresh_from_db()
    assert member.erased_at is not None and member.email is None


def test_suspend_action(client, superuser):
    client.force_login(superuser)
    member = member_enroll(first_name="Jane")

    client.post(
        reverse("admin:members_member_changelist"),
        {"action": "suspend_members", "_selected_action": [member.pk]},
    )

    member.refresh_from_db()
    assert member.status == Member.Status.SUSPENDED


def test_skip_bad_rows_imports_the_good_ones_and_offers_the_bad_ones(client, superuser):
    client.force_login(superuser)
    csv = (
        "member_number,first_name,last_name,email,phone,home_store\n"
        ",Good,One,good1@example.com,,\n"
        ",Bad,Mail,not-an-email,,\n"
        ",Good,Two,good2@example.com,,\n"
    )
    preview = client.post(
        IMPORT_URL,
        {
            "resource": "0",
            "format": "0",
            "skip_bad_rows": "on",
            "import_file": SimpleUploadedFile("m.csv", csv.encode(), content_type="text/csv"),
        },
    )

    assert not preview.context["result"].has_validation_errors()
    assert preview.context["confirm_form"].initial["skip_bad_rows"] is True
    download = next(
        m.message for m in preview.context["messages"] if "Download the skipped rows" in m.message
    )
    url = download.split('href="')[1].split('"')[0]
    skipped = client.get(url)
    assert skipped.status_code == 200
    assert "\n2,email: Enter a valid e-mail address." in skipped.content.decode()

    client.post(
        reverse("admin:members_member_process_import"), preview.context["confirm_form"].initial
    )
    assert set(Member.objects.values_list("email", flat=True)) == {
        "good1@example.com",
        "good2@example.com",
    }


def test_export_honours_the_admin_filters(rf, superuser):
    from django.contrib import admin as django_admin

    from members.resources import MemberResource
    from tests.factories.members import MemberFactory

    MemberFactory(last_name="Kept", status=Member.Status.SUSPENDED)
    MemberFactory(last_name="Filtered", status=Member.Status.ACTIVE)
    request = rf.get("/admin/members/member/export/", {"status__exact": "suspended"})
    request.user = superuser
    model_admin = django_admin.site._registry[Member]

    queryset = model_admin.get_export_queryset(request)
    exported = MemberResource().export(queryset=queryset)

    assert [row["last_name"] for row in exported.dict] == ["Kept"]


def test_member_form_reports_bad_contact_as_form_errors(client, superuser):
    client.force_login(superuser)
    member = member_enroll(first_name="Jane", email="jane@example.com")
    other = member_enroll(first_name="Bob", phone="07911 123456")
    url = reverse("admin:members_member_change", args=[member.pk])
    page = client.get(url)
    data = {
        key: value
        for key, value in page.context["adminform"].form.initial.items()
        if value is not None and key in page.context["adminform"].form.fields
    }
    data.update({"first_name": "Jane", "email": "jane@example.com", "interests": "[]"})
    data["home_store"] = ""
    inline_management = {
        f"{prefix}-{suffix}": value
        for prefix in ("points_account", "consents", "consent_events", "events", "tier_assignments")
        for suffix, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
    }

    bad = client.post(url, {**data, **inline_management, "phone": "12"})
    taken = client.post(url, {**data, **inline_management, "phone": other.phone})

    assert bad.status_code == 200 and "Enter a valid phone number." in bad.content.decode()
    assert taken.status_code == 200
    member.refresh_from_db()
    assert member.phone is None
