import io

import pytest
from django.core.management import CommandError, call_command

from loyalty.ledger.models import LedgerEntry
from loyalty.ledger.services import ledger_reconcile
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_points", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_opening_balances_are_idempotent_per_file_and_row(programme, staff_user, tmp_path):
    MemberFactory(external_ref="OLD-1")
    b = MemberFactory()
    path = tmp_path / "opening.csv"
    path.write_text(
        f"member_ref,member_number,points,expires_on\nOLD-1,,120,2027-12-31\n,{b.member_number},80,\n,9999999999,5,\n"
    )

    out, err = run(
        path, "--kind", "opening", "--user", "staff", "--errors", str(tmp_path / "e.csv")
    )
    again, _ = run(
        path, "--kind", "opening", "--user", "staff", "--errors", str(tmp_path / "e.csv")
    )

    assert "2 posted, 0 already posted, 1 rows refused" in out
    assert "0 posted, 2 already posted" in again
    assert "row 3: unknown member" in err
    entries = LedgerEntry.objects.filter(kind="opening_balance")
    assert sorted(entries.values_list("amount", flat=True)) == [80, 120]
    assert all(e.created_by == staff_user for e in entries)
    assert ledger_reconcile() == []


def test_bulk_adjustments_need_a_reason_per_row(programme, staff_user, tmp_path):
    member = MemberFactory()
    path = tmp_path / "adjust.csv"
    path.write_text(
        f"member_number,points,reason\n{member.member_number},10,store reopening gift\n{member.member_number},5,\n{member.member_number},x,oops\n"
    )

    out, err = run(path, "--kind", "adjust", "--user", "staff", "--errors", str(tmp_path / "e.csv"))

    assert "1 posted" in out and "2 rows refused" in out
    assert "row 2: Say why" in err and "row 3: points must be a whole number" in err
    assert LedgerEntry.objects.get(kind="adjust").reason == "store reopening gift"


def test_unknown_user_or_bad_header(programme, staff_user, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("who,what\n1,2\n")

    with pytest.raises(CommandError, match="No staff user"):
        run(path, "--kind", "adjust", "--user", "nobody")
    with pytest.raises(CommandError, match="header needs points"):
        run(path, "--kind", "adjust", "--user", "staff")
