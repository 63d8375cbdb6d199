"""The transaction import on a committed sample of the real Online Retail data."""

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from loyalty.ledger.models import LedgerEntry, Transaction
from loyalty.ledger.services import ledger_reconcile
from members.models import Member

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "online_retail" / "sample.csv"
pytestmark = pytest.mark.django_db


def run(path, *args, tmp_path):
    out = io.StringIO()
    call_command(
        "import_transactions",
        str(path),
        "--format",
        "online-retail",
        "--skipped",
        str(tmp_path / "skipped.csv"),
        *args,
        stdout=out,
    )
    return out.getvalue()


def expected_total(invoice):
    with SAMPLE.open() as handle:
        return sum(
            Decimal(r["Quantity"]) * Decimal(r["UnitPrice"])
            for r in csv.DictReader(handle)
            if r["InvoiceNo"] == invoice
        ).quantize(Decimal("0.01"))


def test_sample_imports_members_purchases_returns_and_anonymous(programme, tmp_path):
    out = run(SAMPLE, tmp_path=tmp_path)

    assert "7 purchases, 1 returns (1 anonymous)" in out
    assert Member.objects.filter(enrolment_channel="import").count() == 3
    assert Member.objects.get(external_ref="12583").country == "FR"
    first = Transaction.objects.get(external_id="536365")
    assert first.amount == expected_total("536365") == Decimal("139.12")
    assert first.points_earned == 139  # by the rules: 1 point per pound, floored once
    assert first.lines.count() == 7
    assert first.occurred_at.isoformat() == "2010-12-01T08:26:00+00:00"  # UK local time, GMT
    anonymous = Transaction.objects.get(external_id="536555")
    assert anonymous.member is None and anonymous.points_earned == 0
    ret = Transaction.objects.get(external_id="C543611")
    assert ret.kind == "return" and ret.member.external_ref == "17850"
    assert ret.points_reversed == int(expected_total("C543611").copy_abs())
    assert ledger_reconcile() == []


def test_every_skipped_row_is_reported_with_a_reason(programme, tmp_path):
    run(SAMPLE, tmp_path=tmp_path)

    with (tmp_path / "skipped.csv").open() as handle:
        skipped = {row["external_id"]: row["reason"] for row in csv.DictReader(handle)}
    assert set(skipped) == {"536414", "A563185", "A563186", "A563187"}
    assert "accounting adjustment" in skipped["A563186"]
    assert "total of 0.00" in skipped["536414"]


def test_second_import_of_the_same_file_adds_nothing(programme, tmp_path):
    run(SAMPLE, tmp_path=tmp_path)
    counts = (Transaction.objects.count(), LedgerEntry.objects.count(), Member.objects.count())

    out = run(SAMPLE, tmp_path=tmp_path)

    assert "0 purchases, 0 returns" in out and "8 already imported" in out
    assert (
        Transaction.objects.count(),
        LedgerEntry.objects.count(),
        Member.objects.count(),
    ) == counts


def test_lines_of_an_invoice_split_across_the_file_all_count(programme, tmp_path):
    path = tmp_path / "split.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,A,x,1,2011-01-01 10:00:00,5.0,111,France\n"
        "2,B,y,1,2011-01-01 10:05:00,3.0,222,France\n"
        "1,C,z,1,2011-01-01 10:01:00,2.0,111,France\n"
        "3,D,w,x,2011-01-01 10:05:00,3.0,222,France\n"
        "2,E,v,1,2011-01-01 10:05:00,4.0,333,France\n"
    )

    run(path, tmp_path=tmp_path)

    with (tmp_path / "skipped.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["row"], r["external_id"]) for r in rows] == [("4", "3"), ("5", "2")]
    assert "unreadable" in rows[0]["reason"]
    assert "already belongs to customer 222, not 333" in rows[1]["reason"]
    first = Transaction.objects.get(external_id="1")
    assert first.amount == Decimal("7.00") and first.points_earned == 7
    assert sorted(first.lines.values_list("sku", flat=True)) == ["A", "C"]
    assert first.occurred_at.isoformat() == "2011-01-01T10:00:00+00:00"  # its first line's
    assert Transaction.objects.count() == 2


SPLIT = SAMPLE.parent / "split_invoice.csv"


@pytest.mark.parametrize("mode", [(), ("--per-invoice",)])
def test_the_real_split_invoice_counts_both_blocks(programme, tmp_path, mode):
    """Invoice 542806 of the real file: 4 lines, another customer's cancellation, 35 lines."""
    out = run(SPLIT, *mode, tmp_path=tmp_path)

    assert "0 rows skipped" in out
    invoice = Transaction.objects.get(external_id="542806")
    assert invoice.lines.count() == 39
    assert invoice.amount == Decimal("846.69")  # 47.70 in the first block, 798.99 in the second
    assert invoice.points_earned == 846
    assert invoice.member.points_account.balance == 846
    assert Transaction.objects.get(external_id="C542805").points_reversed == 3
    assert ledger_reconcile() == []


def test_wrong_file_is_a_clear_error(programme, tmp_path):
    from django.core.management import CommandError

    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")

    with pytest.raises(CommandError, match="Not an Online Retail file"):
        run(path, tmp_path=tmp_path)


def test_generic_format(programme, member, tmp_path):
    path = tmp_path / "generic.csv"
    path.write_text(
        "kind,channel,external_id,member_number,occurred_at,amount,original_external_id\n"
        f"purchase,web,W1,{member.member_number},2026-01-05T10:00:00+00:00,40.00,\n"
        f"return,web,W1-R,,2026-01-06T10:00:00+00:00,10.00,W1\n"
        f"purchase,web,W2,{member.member_number},2026-01-05T10:00:00,40.00,\n"
        f"purchase,fax,W3,,2026-01-05T10:00:00+00:00,1,\n"
    )

    out = io.StringIO()
    call_command("import_transactions", str(path), "--skipped", str(tmp_path / "s.csv"), stdout=out)

    assert "1 purchases, 1 returns" in out.getvalue()
    with (tmp_path / "s.csv").open() as handle:
        reasons = [r["reason"] for r in csv.DictReader(handle)]
    assert len(reasons) == 2 and "UTC offset" in reasons[0] and "channel" in reasons[1]
    assert Transaction.objects.get(external_id="W1-R").points_reversed == 10
