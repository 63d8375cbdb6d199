"""The COPY-staging import (PostgreSQL) gives the same members, consents, history and error
report as the ORM batch path, on a file with every kind of bad row."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction

import members.import_copy as import_copy
from members.identifiers import is_valid_member_number, luhn_check_digit
from members.import_copy import CopyMemberImporter
from members.importing import MemberImporter, read_rows
from members.models import Consent, Member
from members.services import member_enroll
from tests.factories.members import StoreFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def number(payload: str) -> str:
    return payload + luhn_check_digit(payload)


N1, N4, N12 = number("100000001"), number("100000004"), number("100000012")
BAD_NUMBER = N1[:-1] + str((int(N1[-1]) + 1) % 10)
HEADER = (
    "member_number,first_name,last_name,email,phone,birth_date,city,country,home_store,"
    "email_consent,sms_consent,external_ref\n"
)
ROWS = [
    f"{N1},,,ann@example.com,,,York,,,yes,,",  # 1 update by number (city) + consent
    ",Bob,,bob@example.com,,,,,,,,",  # 2 update by e-mail (first name)
    ",Carl,,,07911 123403,,,,,,,",  # 3 matched by phone, unchanged
    f"{N4},New,One,new1@Example.COM,,,,,,,,",  # 4 new with its own number
    ",Dana,Doe,,+44 7911 123460,1990-05-01,,gb,ldn01,,1,SRC-1",  # 5 new, number drawn
    ",Bad,Mail,not-an-email,,,,,,,,",  # 6
    ",Bad,Phone,,12,,,,,,,",  # 7
    ",Bad,Store,,,,,,NOPE,,,",  # 8
    ",Bad,Consent,,,,,,,maybe,,",  # 9
    ",,,,,,,,,yes,,",  # 10 empty row
    ",Dup,,new1@example.com,,,,,,,,",  # 11 same e-mail as row 4
    f"{N12},Eve,,eve@example.com,,,,,,,,",  # 12 e-mail of another member
    f"{BAD_NUMBER},Bad,Number,,,,,,,,,",  # 13 check digit
    ",Two,Errors,,,1990-13-01,,GBR,,,,",  # 14 two field errors
    ",Fay,,,07911 123403,,,,,,,",  # 15 same phone as row 3
]


@pytest.fixture
def existing():
    StoreFactory(code="LDN01")
    ann = member_enroll(first_name="Ann", email="ann@example.com", city="Leeds")
    Member.objects.filter(pk=ann.pk).update(member_number=N1)
    member_enroll(first_name="Robert", email="bob@example.com", phone="+447911123402")
    member_enroll(first_name="Carl", phone="+447911123403")
    member_enroll(first_name="Eve", email="eve@example.com")


def write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "members.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def snapshot(given_numbers: set[str]) -> dict:
    """Everything an import writes, without ids, times and the randomly drawn identifiers."""

    def key(member_number: str, email: str | None, phone: str | None) -> tuple:
        return (member_number if member_number in given_numbers else "drawn", email, phone)

    members = []
    for m in Member.objects.all():
        assert is_valid_member_number(m.member_number) and len(m.referral_code) == 8
        members.append(
            (
                key(m.member_number, m.email, m.phone),
                m.first_name,
                m.last_name,
                m.birth_date,
                m.city,
                m.country,
                m.home_store_id,
                m.external_ref,
                m.enrolment_channel,
                m.status,
                m.interests,
            )
        )
    history = [
        (key(h.member_number, h.email, h.phone), h.city, h.history_type, h.history_change_reason)
        for h in Member.history.all()
    ]
    consents = [
        (
            key(c.member.member_number, c.member.email, c.member.phone),
            c.channel,
            c.granted,
            c.source,
        )
        for c in Consent.objects.select_related("member")
    ]
    return {
        "members": sorted(members, key=repr),
        "history": sorted(history, key=repr),
        "consents": sorted(consents, key=repr),
        "member_count": Member.objects.count(),
    }


def run_path(importer_class, path: Path, **options) -> tuple[tuple, dict]:
    """Import in a savepoint that is rolled back, so both paths start from the same data."""
    given = {N1, N4, N12}
    with transaction.atomic():
        with path.open(encoding="utf-8", newline="") as handle:
            report = importer_class(batch_size=4, **options).run(read_rows(handle, None))
        state = snapshot(given)
        transaction.set_rollback(True)
    errors = [(e.row_number, e.field, e.message, e.raw) for e in report.errors]
    counts = (report.rows, report.created, report.updated, report.unchanged, report.written)
    return (counts, errors), state


@pytest.mark.parametrize(
    "options", [{"skip_bad_rows": True}, {}, {"dry_run": True, "skip_bad_rows": True}]
)
def test_copy_path_equals_orm_path(existing, tmp_path, options):
    path = write(tmp_path, ROWS)

    orm_report, orm_state = run_path(MemberImporter, path, **options)
    copy_report, copy_state = run_path(CopyMemberImporter, path, **options)

    assert copy_report == orm_report
    assert copy_state == orm_state
    (rows, created, updated, unchanged, written), errors = copy_report
    assert (rows, created, updated, unchanged) == (15, 2, 2, 1)
    assert written is (options == {"skip_bad_rows": True})
    assert [(row, field) for row, field, _, _ in errors] == [
        (6, "email"),
        (7, "phone"),
        (8, "home_store"),
        (9, "email_consent"),
        (10, "row"),
        (11, "email"),
        (12, "email"),
        (13, "member_number"),
        (14, "birth_date"),
        (14, "country"),
        (15, "phone"),
    ]
    assert errors[5][2] == "Same email as row 4 of this file."
    assert errors[6][2] == "Another member already has this email."


def test_copy_path_writes_what_the_file_says(existing, tmp_path):
    path = write(tmp_path, ROWS)
    with path.open(encoding="utf-8", newline="") as handle:
        CopyMemberImporter(skip_bad_rows=True).run(read_rows(handle, None))

    ann = Member.objects.get(member_number=N1)
    dana = Member.objects.get(phone="+447911123460")
    new = Member.objects.get(member_number=N4)
    assert ann.city == "York" and Member.objects.get(email="bob@example.com").first_name == "Bob"
    assert Consent.objects.get(member=ann, channel="email").granted is True
    assert new.email == "new1@example.com" and new.enrolment_channel == Member.Channel.IMPORT
    assert (dana.country, dana.home_store.code, dana.external_ref) == ("GB", "LDN01", "SRC-1")
    assert is_valid_member_number(dana.member_number)
    assert {c.channel: c.granted for c in dana.consents.all()} == {
        "email": False,
        "sms": True,
        "push": False,
    }
    assert [h.history_type for h in dana.history.all()] == ["+"]
    assert ann.history.latest().history_change_reason == "bulk import"


def test_drawn_identifiers_already_taken_are_drawn_again(existing, tmp_path, monkeypatch):
    taken_number = Member.objects.get(email="eve@example.com").member_number
    taken_code = Member.objects.get(email="eve@example.com").referral_code
    numbers = iter([taken_number, taken_number, number("100000099"), number("100000098")])
    codes = iter([[taken_code, "ABCDEFGH"], ["JKLMNPQR"]])
    monkeypatch.setattr(import_copy, "member_number", lambda: next(numbers))
    monkeypatch.setattr(import_copy, "referral_codes", lambda count: next(codes)[:count])
    path = write(tmp_path, [",Gil,,gil@example.com,,,,,,,,", ",Hal,,hal@example.com,,,,,,,,"])

    with path.open(encoding="utf-8", newline="") as handle:
        report = CopyMemberImporter().run(read_rows(handle, None))

    assert report.written and report.created == 2
    gil, hal = Member.objects.get(first_name="Gil"), Member.objects.get(first_name="Hal")
    assert {gil.member_number, hal.member_number} == {number("100000099"), number("100000098")}
    assert {gil.referral_code, hal.referral_code} == {"ABCDEFGH", "JKLMNPQR"}


def test_command_reimport_on_postgres_changes_nothing(existing, tmp_path):
    path = write(tmp_path, ROWS[:5])
    out = io.StringIO()
    call_command("import_members", str(path), stdout=out)
    before = (
        snapshot({N1, N4, N12}),
        list(Member.objects.values_list("member_number", "referral_code")),
    )
    again = io.StringIO()
    call_command("import_members", str(path), stdout=again)

    assert "5 rows: 2 new, 2 updated, 1 unchanged, 0 errors" in out.getvalue()
    assert "5 rows: 0 new, 0 updated, 5 unchanged, 0 errors" in again.getvalue()
    assert (
        snapshot({N1, N4, N12}),
        list(Member.objects.values_list("member_number", "referral_code")),
    ) == before
