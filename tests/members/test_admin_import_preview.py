"""The admin import preview explains itself (#23.4): a refused value is shown beside its error
(not blanked), a row skipped as bad shows why, a row that changes nothing is "Unchanged" (not
"Skipped" like a bad row)."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from members.models import Member
from tests.factories.members import MemberFactory

IMPORT_URL = reverse("admin:members_member_import")
HEADER = "member_number,first_name,last_name,email,phone,home_store\n"


def upload(client, text, **extra):
    return client.post(
        IMPORT_URL,
        {
            "resource": "0",
            "format": "0",
            "import_file": SimpleUploadedFile("m.csv", text.encode(), content_type="text/csv"),
            **extra,
        },
    )


def cell_of(html, field):
    match = re.search(rf'data-error-field="{field}">(.*?)</td>', html, re.S)
    assert match, f"no error cell for {field}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


@pytest.mark.django_db
def test_a_refused_value_is_shown_beside_its_error(client, superuser):
    client.force_login(superuser)

    response = upload(client, HEADER + ",Ada,Lovelace,ada@@example,07911 123456,\n")

    html = response.content.decode()
    cell = cell_of(html, "email")
    assert "ada@@example" in cell  # what staff typed, not a blank
    assert re.search(r"Enter a valid e-?mail address\.", cell), cell
    assert "confirm_form" not in response.context
    assert not Member.objects.exists()


@pytest.mark.django_db
def test_skipped_rows_say_why_and_unchanged_rows_are_not_skipped(client, superuser):
    client.force_login(superuser)
    same = MemberFactory(first_name="Same", last_name="Person", email="same@example.com")
    same.phone = None
    same.home_store = None
    same.save()
    text = (
        HEADER
        + f"{same.member_number},Same,Person,same@example.com,,\n"
        + ",Bad,Mail,not-an-email,,\n"
        + ",New,Member,new@example.com,,\n"
    )

    response = upload(client, text, skip_bad_rows="on")

    html = response.content.decode()
    states = re.findall(r'data-state="([a-z]+)"', html)
    assert states == ["unchanged", "skip", "new"]
    assert "Unchanged" in html
    reason = re.search(r'class="skip-reason[^"]*">(.*?)</span>', html, re.S).group(1)
    assert re.search(r"email: Enter a valid e-?mail address\.", reason), reason
    # the skipped row shows what was typed
    assert "not-an-email" in html


@pytest.mark.django_db
def test_after_bad_rows_the_file_is_kept_and_its_good_rows_can_be_imported(client, superuser):
    client.force_login(superuser)
    preview = upload(
        client, HEADER + ",Ada,Lovelace,ada@@example,,\n,Alan,Turing,alan@example.com,,\n"
    )
    retry = preview.context["retry_form"]
    assert retry.initial["skip_bad_rows"] is True
    assert b"no need to choose it again" in preview.content

    response = client.post(reverse("admin:members_member_process_import"), retry.initial)

    assert response.status_code == 302
    assert list(Member.objects.values_list("last_name", flat=True)) == ["Turing"]


def kept_token(response):
    token = response.context["form"].data.get("kept_file")
    assert token, "the file was not kept"
    return token


@pytest.mark.django_db
def test_a_form_error_keeps_the_file_and_the_corrected_resubmit_uses_it(client, superuser):
    """#23.4 "keep the form": the file was chosen but the format was not; correcting the format
    and submitting again needs no second choice of the file."""
    client.force_login(superuser)
    first = client.post(
        IMPORT_URL,
        {
            "resource": "0",
            "format": "",
            "import_file": SimpleUploadedFile("m.csv", (HEADER + ",Ada,Lovelace,,,\n").encode()),
        },
    )
    assert "format" in first.context["form"].errors
    assert b"Kept from your last try: m.csv" in first.content
    assert 'name="kept_file"' in first.content.decode()

    again = client.post(
        IMPORT_URL, {"resource": "0", "format": "0", "kept_file": kept_token(first)}
    )

    assert again.context["form"].errors == {}
    confirm = again.context["confirm_form"]
    assert confirm.initial["original_file_name"] == "m.csv"
    client.post(reverse("admin:members_member_process_import"), confirm.initial)
    assert list(Member.objects.values_list("last_name", flat=True)) == ["Lovelace"]


@pytest.mark.django_db
def test_after_bad_rows_the_form_resubmits_the_kept_file_with_skip_bad_rows(client, superuser):
    client.force_login(superuser)
    preview = upload(
        client, HEADER + ",Ada,Lovelace,ada@@example,,\n,Alan,Turing,alan@example.com,,\n"
    )
    assert b"Kept from your last try: m.csv" in preview.content

    again = client.post(
        IMPORT_URL,
        {"resource": "0", "format": "0", "skip_bad_rows": "on", "kept_file": kept_token(preview)},
    )

    states = re.findall(r'data-state="([a-z]+)"', again.content.decode())
    assert states == ["skip", "new"]
    client.post(
        reverse("admin:members_member_process_import"), again.context["confirm_form"].initial
    )
    assert list(Member.objects.values_list("last_name", flat=True)) == ["Turing"]


@pytest.mark.django_db
def test_a_new_file_replaces_the_kept_one(client, superuser):
    client.force_login(superuser)
    preview = upload(client, HEADER + ",Ada,Lovelace,ada@@example,,\n")

    corrected = upload(
        client, HEADER + ",Ada,Lovelace,ada@example.com,,\n", kept_file=kept_token(preview)
    )

    assert corrected.context["form"].errors == {}
    assert "confirm_form" in corrected.context
    assert b"ada@example.com" in corrected.content


@pytest.mark.django_db
def test_a_forged_or_foreign_kept_token_is_not_a_file(client, superuser, django_user_model):
    from django.core import signing

    client.force_login(superuser)
    preview = upload(client, HEADER + ",Ada,Lovelace,ada@@example,,\n")
    kept = signing.loads(kept_token(preview), salt="members.import.kept-file")
    other = django_user_model.objects.create_superuser("other", "o@example.com", "x-pass-12345")
    foreign = signing.dumps({**kept, "user": other.pk}, salt="members.import.kept-file")

    for token in ("forged", foreign, signing.dumps({**kept, "name": "../../etc/passwd"})):
        response = client.post(IMPORT_URL, {"resource": "0", "format": "0", "kept_file": token})
        assert response.status_code == 200
        assert "import_file" in response.context["form"].errors
    assert not Member.objects.exists()


@pytest.mark.django_db
def test_a_refused_file_is_not_kept(client, superuser):
    client.force_login(superuser)

    response = upload(client, "email,email\nada@example.com,ada@example.com\n")

    assert "import_file" in response.context["form"].errors
    assert not response.context["form"].data.get("kept_file")
