"""The bulk import command: every failure named by row, nothing half-written, re-import no-op."""

import io

import pytest
from django.core.management import CommandError, call_command

from members.models import Consent, Member
from tests.factories.members import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db
HEADER = "first_name,last_name,email,phone,home_store,email_consent\n"


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_members", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path, text, name="members.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_import_creates_members_and_reimport_changes_nothing(tmp_path):
    StoreFactory(code="LDN01")
    path = write(
        tmp_path,
        HEADER
        + "Jane,Doe,Jane@Example.com,07911 123456,ldn01,yes\n"
        + "John,Smith,,+44 7911 123457,,no\n"
        + "Ann,Lee,ann@example.com,,,\n",
    )

    out, _ = run(path)
    snapshot = list(Member.objects.order_by("pk").values())
    again, _ = run(path)

    assert "3 new" in out
    assert "0 new, 0 updated, 3 unchanged" in again
    assert list(Member.objects.order_by("pk").values()) == snapshot
    jane = Member.objects.get(email="Jane@example.com")
    assert jane.phone == "+447911123456" and jane.home_store.code == "LDN01"
    assert jane.enrolment_channel == Member.Channel.IMPORT
    assert Consent.objects.get(member=jane, channel="email").granted is True
    assert Consent.objects.filter(member=jane).count() == 3


def test_changed_row_updates_the_member_matched_by_email(tmp_path):
    member = MemberFactory(email="ann@example.com", city="Leeds")
    path = write(tmp_path, "email,city\nann@example.com,York\n")

    out, _ = run(path)

    member.refresh_from_db()
    assert "1 updated" in out and member.city == "York"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("Jane,Doe,not-an-email,,,\n", "email"),
        ("Jane,Doe,,12,,\n", "phone"),
        ("Jane,Doe,,,NOPE,\n", "home_store"),
        ("Jane,Doe,,,,maybe\n", "email_consent"),
        (",,,,,yes\n", "row"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_written(tmp_path, row, field):
    path = write(tmp_path, HEADER + "Good,Row,good@example.com,,,\n" + row)

    with pytest.raises(CommandError, match="Nothing was written"):
        run(path)

    assert Member.objects.count() == 0
    report = (tmp_path / "members.csv.errors.csv").read_text()
    assert f"2,{field}," in report


def test_duplicate_inside_the_file_names_the_first_row(tmp_path):
    path = write(
        tmp_path, HEADER + "A,A,a@example.com,,,\nB,B,b@example.com,,,\nC,C,a@EXAMPLE.com,,,\n"
    )

    with pytest.raises(CommandError):
        run(path)

    report = (tmp_path / "members.csv.errors.csv").read_text()
    assert "3,email,Same email as row 1 of this file." in report


def test_duplicate_against_the_database(tmp_path):
    # the row is Ann by e-mail, but its phone belongs to another member
    MemberFactory(email="ann@example.com", phone=None)
    MemberFactory(email="bob@example.com", phone="+447911123456")
    path = write(tmp_path, HEADER + "Ann,Lee,ann@example.com,07911123456,,\n")

    with pytest.raises(CommandError):
        run(path)

    report = (tmp_path / "members.csv.errors.csv").read_text()
    assert "1,phone,Another member already has this phone." in report
    assert Member.objects.get(email="ann@example.com").phone is None


def test_skip_bad_rows_imports_the_rest_and_reports_the_skipped(tmp_path):
    path = write(tmp_path, HEADER + "A,A,a@example.com,,,\nB,B,bad,,,\nC,C,c@example.com,,,\n")

    out, err = run(path, "--skip-bad-rows")

    assert "2 new" in out and "1 errors" in out
    assert set(Member.objects.values_list("email", flat=True)) == {"a@example.com", "c@example.com"}
    assert "row 2: email" in err


def test_dry_run_writes_nothing(tmp_path):
    path = write(tmp_path, HEADER + "A,A,a@example.com,,,\n")

    out, _ = run(path, "--dry-run")

    assert "1 new" in out and "dry run" in out
    assert Member.objects.count() == 0


def test_latin1_is_detected_and_semicolons_and_aliases_are_understood(tmp_path):
    path = write(
        tmp_path,
        "Surname;Forename;E-mail;Mobile\nMüller;Zoë;zoe@example.com;07911 123456\n",
        encoding="latin-1",
    )

    out, _ = run(path)

    member = Member.objects.get()
    assert "encoding latin-1" in out
    assert (member.first_name, member.last_name) == ("Zoë", "Müller")


def test_utf8_with_bom(tmp_path):
    path = write(tmp_path, "\ufeffemail,first_name\nzoe@example.com,Zoë\n")

    run(path)

    assert Member.objects.get().first_name == "Zoë"


def test_wrong_encoding_chosen_is_a_clear_error(tmp_path):
    path = write(tmp_path, "first_name,email\nZoë,zoe@example.com\n", encoding="latin-1")

    with pytest.raises(CommandError, match="not utf-8"):
        run(path, "--encoding", "utf-8")
    assert Member.objects.count() == 0


def test_missing_required_column(tmp_path):
    path = write(tmp_path, "colour,size\nred,XL\n")

    with pytest.raises(CommandError, match="No usable column"):
        run(path)


@pytest.mark.parametrize("text", ["", "   \n", "first_name,email\n"])
def test_empty_file(tmp_path, text):
    path = write(tmp_path, text)

    with pytest.raises(CommandError, match=r"empty|no rows"):
        run(path)


def test_ten_thousand_rows_with_one_bad_row_in_the_middle(tmp_path):
    lines = [f"First{i},Last{i},m{i}@example.com,,,\n" for i in range(10_000)]
    lines[5_000] = "First5000,Last5000,m5000@@example.com,,,\n"
    path = write(tmp_path, HEADER + "".join(lines))

    with pytest.raises(CommandError, match="Nothing was written"):
        run(path, "--batch-size", "1000")

    assert Member.objects.count() == 0
    report = (tmp_path / "members.csv.errors.csv").read_text().splitlines()
    assert len(report) == 2 and report[1].startswith("5001,email,")
