"""Historical transaction import (streaming, batched, idempotent, per-row error report).

Formats:
- `online-retail`: the UCI Online Retail line-item file (InvoiceNo, StockCode, Description,
  Quantity, InvoiceDate, UnitPrice, CustomerID, Country), plain or gzip. Invoices become
  purchases, `C` invoices returns (no purchase reference: reversed at the base rate under the
  return policy), rows without CustomerID anonymous transactions; customers are enrolled as
  members keyed by CustomerID (external_ref), with their country. `A` invoices (accounting
  adjustments) are not sales and are reported as skipped.
- `generic`: one row per transaction: kind (purchase|return), channel, external_id,
  member_ref (a member's external_ref) or member_number, occurred_at (ISO 8601 with offset),
  amount, store (code), original_external_id (returns).

Points are computed by the rules engine, never copied. The online-retail format takes the bulk
path (loyalty/ledger/bulk.py: the same postings computed in memory, written with COPY) unless
`bulk_blockers()` names a reason, or per_invoice is asked for; then, and for the generic format,
every transaction goes through purchase_record/return_record. Either way a second import of the
same file adds nothing.
"""

import csv
import gzip
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from loyalty.core import csvsafe
from loyalty.core.exceptions import ApplicationError
from loyalty.ledger.bulk import (
    BulkPoster,
    advisory_lock,
    bulk_blockers,
    not_active_message,
    validate,
)
from loyalty.ledger.models import Transaction
from loyalty.ledger.services import LineInput, purchase_record, return_record
from members.models import Member, Store
from members.services import members_ensure_by_ref

CENT = Decimal("0.01")
UK = ZoneInfo("Europe/London")
COUNTRY_CODES = {
    "United Kingdom": "GB",
    "Germany": "DE",
    "France": "FR",
    "Spain": "ES",
    "Belgium": "BE",
    "Switzerland": "CH",
    "Portugal": "PT",
    "Italy": "IT",
    "Finland": "FI",
    "Norway": "NO",
    "Netherlands": "NL",
    "Channel Islands": "JE",
    "Austria": "AT",
    "Australia": "AU",
    "Sweden": "SE",
    "Japan": "JP",
    "Denmark": "DK",
    "Cyprus": "CY",
    "Poland": "PL",
    "USA": "US",
    "Israel": "IL",
    "Greece": "GR",
    "Canada": "CA",
    "EIRE": "IE",
    "United Arab Emirates": "AE",
    "Malta": "MT",
    "Bahrain": "BH",
    "Singapore": "SG",
    "Saudi Arabia": "SA",
    "RSA": "ZA",
    "Lithuania": "LT",
    "Lebanon": "LB",
    "Iceland": "IS",
    "Czech Republic": "CZ",
    "Brazil": "BR",
    "Hong Kong": "HK",
    "Unspecified": "",
    "European Community": "",
}


@dataclass
class SkippedRow:
    row_number: int
    external_id: str
    reason: str


@dataclass
class TransactionImportReport:
    rows: int = 0
    purchases: int = 0
    returns: int = 0
    anonymous: int = 0
    already_imported: int = 0
    members_enrolled: int = 0
    points_earned: int = 0
    points_reversed: int = 0
    skipped: list[SkippedRow] = field(default_factory=list)


@dataclass
class Invoice:
    number: str
    first_row: int
    kind: str  # purchase | return | adjustment
    customer: str
    country: str
    occurred_at: datetime
    amount: Decimal = Decimal("0")
    lines: list[LineInput] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)


def check_readable(path: Path) -> None:
    """Read the whole file once before any row is booked: rows are committed one by one, so
    bad bytes (not UTF-8) or a broken CSV record found half-way would leave the first part of
    the file imported. Raises ValueError naming the line."""
    with open_text(path) as handle:
        reader = csv.reader(handle)
        try:
            for _row in reader:
                pass
        except UnicodeDecodeError as exc:
            raise ValueError(
                _("The file is not UTF-8 text (%(reason)s); nothing imported.")
                % {"reason": exc.reason}
            ) from exc
        except csv.Error as exc:
            raise ValueError(
                _("Line %(line_num)s: %(exc)s; nothing imported.")
                % {"line_num": reader.line_num, "exc": exc}
            ) from exc


def refuse_repeated_columns(names: Sequence[str]) -> None:
    """A column named twice: csv.DictReader would keep the last silently; which one is meant?"""
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            _("Columns named twice: %(join)s. Keep one of each.") % {"join": ", ".join(repeated)}
        )


def open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _uk_time(value: str) -> datetime:
    return datetime.fromisoformat(value.strip()).replace(tzinfo=UK)


def read_online_retail(handle: IO[str], report: TransactionImportReport) -> Iterator[Invoice]:
    reader = csv.DictReader(handle)
    required = {
        "InvoiceNo",
        "StockCode",
        "Quantity",
        "InvoiceDate",
        "UnitPrice",
        "CustomerID",
        "Country",
    }
    if not required <= set(reader.fieldnames or []):
        raise ValueError(
            _("Not an Online Retail file: missing %(sorted)s")
            % {"sorted": sorted(required - set(reader.fieldnames or []))}
        )
    # Every line of an invoice counts wherever it appears: the real file has an invoice whose
    # lines come in two blocks with another invoice between them. So the whole file is read
    # before any invoice is handed on (the bulk path held it all anyway), in the order of each
    # invoice's first line; the invoice keeps the time, customer and country of that line.
    invoices: dict[str, Invoice] = {}
    for number, row in enumerate(reader, start=1):
        report.rows += 1
        invoice_no = row["InvoiceNo"].strip()
        try:
            quantity = Decimal(row["Quantity"])
            price = Decimal(row["UnitPrice"])
            occurred_at = _uk_time(row["InvoiceDate"])
        except (InvalidOperation, ValueError):
            report.skipped.append(
                SkippedRow(number, invoice_no, "unreadable quantity, price or date")
            )
            continue
        current = invoices.get(invoice_no)
        if current is None:
            kind = (
                "return"
                if invoice_no.startswith("C")
                else "adjustment"
                if invoice_no.startswith("A")
                else "purchase"
            )
            current = invoices[invoice_no] = Invoice(
                number=invoice_no,
                first_row=number,
                kind=kind,
                customer=row["CustomerID"].strip(),
                country=row["Country"].strip(),
                occurred_at=occurred_at,
            )
        elif row["CustomerID"].strip() != current.customer:
            report.skipped.append(
                SkippedRow(
                    number,
                    invoice_no,
                    f"invoice {invoice_no} already belongs to customer "
                    f"{current.customer or '(none)'}, not {row['CustomerID'].strip() or '(none)'}",
                )
            )
            continue
        current.rows.append(number)
        current.amount += quantity * price
        if quantity > 0 and price >= 0:
            current.lines.append(
                LineInput(
                    sku=row["StockCode"].strip()[:64],
                    quantity=quantity,
                    unit_price=price,
                    amount=(quantity * price).quantize(CENT),
                )
            )
        elif quantity < 0 and current.kind == "return":
            current.lines.append(
                LineInput(
                    sku=row["StockCode"].strip()[:64],
                    quantity=-quantity,
                    unit_price=abs(price),
                    amount=(-quantity * price).quantize(CENT),
                )
            )
    yield from invoices.values()


class TransactionImporter:
    def __init__(self, *, batch_size: int = 500, actor: Any = None, per_invoice: bool = False):
        self.batch_size = batch_size
        self.actor = actor
        self.per_invoice = per_invoice
        self.report = TransactionImportReport()
        self.stores: dict[str, Store] = {}
        self.mode = "per-invoice"
        self.fallback_reasons: list[str] = []

    def run_online_retail(self, handle: IO[str], progress: Any = None) -> TransactionImportReport:
        if not self.per_invoice:
            self.fallback_reasons = bulk_blockers()
            if not self.fallback_reasons:
                self.mode = "bulk"
                return self._online_retail_bulk(handle, progress)
        batch: list[Invoice] = []
        for invoice in read_online_retail(handle, self.report):
            batch.append(invoice)
            if len(batch) >= self.batch_size:
                self._online_retail_batch(batch, progress)
                batch = []
        if batch:
            self._online_retail_batch(batch, progress)
        return self.report

    def _online_retail_bulk(self, handle: IO[str], progress: Any) -> TransactionImportReport:
        """All invoices at once (loyalty/ledger/bulk.py); members enrolled per batch of
        batch_size invoices exactly as the per-invoice path enrols them."""
        invoices = []
        for invoice in read_online_retail(handle, self.report):
            invoices.append(invoice)
            if progress is not None:
                progress.update(len(invoice.rows))
        with transaction.atomic():
            advisory_lock()
            numbers = [i.number for i in invoices]
            known: set[str] = set()
            for offset in range(0, len(numbers), 5000):
                known.update(
                    Transaction.objects.filter(
                        channel=Transaction.Channel.IMPORT,
                        external_id__in=numbers[offset : offset + 5000],
                    ).values_list("external_id", flat=True)
                )
            members: dict[str, Member] = {}
            for offset in range(0, len(invoices), self.batch_size):
                batch = invoices[offset : offset + self.batch_size]
                refs = {
                    i.customer: {
                        "country": COUNTRY_CODES.get(i.country, ""),
                        "enrolled_at": i.occurred_at,
                    }
                    for i in batch
                    if i.customer and i.number not in known and i.kind != "adjustment"
                }
                if not refs:
                    continue
                before = Member.objects.filter(external_ref__in=list(refs)).count()
                ensured = members_ensure_by_ref(refs=refs)
                self.report.members_enrolled += len(ensured) - before
                members.update(ensured)
            todo: list[tuple[Invoice, Decimal, Member | None]] = []
            for invoice in invoices:
                if invoice.number in known:
                    self.report.already_imported += 1
                    continue
                if invoice.kind == "adjustment":
                    self._skip(invoice, "accounting adjustment (A invoice), not a sale")
                    continue
                amount = (
                    invoice.amount if invoice.kind == "purchase" else -invoice.amount
                ).quantize(CENT)
                if amount <= 0:
                    self._skip(
                        invoice, f"{invoice.kind} with a total of {amount} (nothing to record)"
                    )
                    continue
                member = members.get(invoice.customer) if invoice.customer else None
                problem = validate(amount, invoice.occurred_at) or (
                    not_active_message(member) if invoice.kind == "purchase" else None
                )
                if problem:
                    self._skip(invoice, problem)
                    continue
                todo.append((invoice, amount, member))
            poster = BulkPoster(members={m.pk: m for _, _, m in todo if m is not None})
            poster.lock_accounts()
            for invoice, amount, member in todo:
                txn = poster.post(
                    kind=invoice.kind,
                    external_id=invoice.number,
                    occurred_at=invoice.occurred_at,
                    amount=amount,
                    member=member,
                    lines=invoice.lines,
                )
                if invoice.kind == "purchase":
                    self.report.purchases += 1
                    self.report.points_earned += txn["points_earned"]
                else:
                    self.report.returns += 1
                    self.report.points_reversed += txn["points_reversed"]
                if member is None:
                    self.report.anonymous += 1
            poster.write()
        self.report.skipped.sort(key=lambda row: row.row_number)
        return self.report

    def _skip(self, invoice: Invoice, reason: str) -> None:
        self.report.skipped.extend(SkippedRow(n, invoice.number, reason) for n in invoice.rows)

    def _online_retail_batch(self, invoices: list[Invoice], progress: Any) -> None:
        known = set(
            Transaction.objects.filter(
                channel=Transaction.Channel.IMPORT, external_id__in=[i.number for i in invoices]
            ).values_list("external_id", flat=True)
        )
        refs = {
            i.customer: {"country": COUNTRY_CODES.get(i.country, ""), "enrolled_at": i.occurred_at}
            for i in invoices
            if i.customer and i.number not in known and i.kind != "adjustment"
        }
        before = Member.objects.filter(external_ref__in=list(refs)).count() if refs else 0
        members = members_ensure_by_ref(refs=refs) if refs else {}
        self.report.members_enrolled += len(members) - before
        for invoice in invoices:
            if progress is not None:
                progress.update(len(invoice.rows))
            if invoice.number in known:
                self.report.already_imported += 1
                continue
            if invoice.kind == "adjustment":
                self._skip(invoice, "accounting adjustment (A invoice), not a sale")
                continue
            amount = (invoice.amount if invoice.kind == "purchase" else -invoice.amount).quantize(
                CENT
            )
            if amount <= 0:
                self._skip(invoice, f"{invoice.kind} with a total of {amount} (nothing to record)")
                continue
            member = members.get(invoice.customer) if invoice.customer else None
            try:
                if invoice.kind == "purchase":
                    result = purchase_record(
                        member=member,
                        channel=Transaction.Channel.IMPORT,
                        external_id=invoice.number,
                        occurred_at=invoice.occurred_at,
                        amount=amount,
                        lines=invoice.lines,
                        actor=self.actor,
                    )
                    self.report.purchases += 1
                    self.report.points_earned += result.points_earned
                else:
                    result = return_record(
                        channel=Transaction.Channel.IMPORT,
                        external_id=invoice.number,
                        occurred_at=invoice.occurred_at,
                        amount=amount,
                        member=member,
                        lines=invoice.lines,
                        actor=self.actor,
                    )
                    self.report.returns += 1
                    self.report.points_reversed += result.points_reversed
                if member is None:
                    self.report.anonymous += 1
            except (ApplicationError, ValidationError) as exc:
                message = (
                    exc.message if isinstance(exc, ApplicationError) else "; ".join(exc.messages)
                )
                self._skip(invoice, message)

    def run_generic(self, handle: IO[str], progress: Any = None) -> TransactionImportReport:
        reader = csv.DictReader(handle)
        required = {"kind", "channel", "external_id", "occurred_at", "amount"}
        if not required <= set(reader.fieldnames or []):
            raise ValueError(
                _("Missing columns: %(sorted)s")
                % {"sorted": sorted(required - set(reader.fieldnames or []))}
            )
        refuse_repeated_columns(reader.fieldnames or [])
        for number, row in enumerate(reader, start=1):
            self.report.rows += 1
            if progress is not None:
                progress.update(1)
            external_id = (row.get("external_id") or "").strip()
            try:
                self._generic_row(row, external_id)
            except (ApplicationError, ValidationError, ValueError, InvalidOperation) as exc:
                if isinstance(exc, ApplicationError):
                    message = exc.message
                elif isinstance(exc, ValidationError):
                    message = (
                        "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.message_dict.items())
                        if hasattr(exc, "error_dict")
                        else "; ".join(exc.messages)
                    )
                else:
                    message = str(exc) or exc.__class__.__name__
                self.report.skipped.append(SkippedRow(number, external_id, message))
        return self.report

    def _generic_row(self, row: dict[str, str], external_id: str) -> None:
        kind = (row.get("kind") or "").strip().lower()
        channel = (row.get("channel") or "").strip().lower()
        if kind not in ("purchase", "return"):
            raise ValueError(
                _("kind must be purchase or return, not %(kind)s") % {"kind": repr(kind)}
            )
        if channel not in Transaction.Channel.values:
            raise ValueError(_("unknown channel %(channel)s") % {"channel": repr(channel)})
        if not external_id or len(external_id) > 64:
            raise ValueError(_("external_id is required (at most 64 characters)"))
        occurred_at = parse_datetime((row.get("occurred_at") or "").strip())
        if occurred_at is None or occurred_at.tzinfo is None:
            raise ValueError(_("occurred_at must be ISO 8601 with a UTC offset"))
        try:
            occurred_at.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
            raise ValueError(_("occurred_at is out of range")) from None
        amount = Decimal((row.get("amount") or "").strip())
        if Transaction.objects.filter(channel=channel, external_id=external_id).exists():
            self.report.already_imported += 1
            return
        member = None
        if (row.get("member_number") or "").strip():
            member = Member.objects.filter(member_number=row["member_number"].strip()).first()
            if member is None:
                raise ValueError(
                    _("unknown member number %(member_number)s")
                    % {"member_number": repr(row["member_number"])}
                )
        elif (row.get("member_ref") or "").strip():
            member = members_ensure_by_ref(refs={row["member_ref"].strip(): {}})[
                row["member_ref"].strip()
            ]
        store = None
        if (row.get("store") or "").strip():
            store = Store.objects.filter(code=row["store"].strip().upper()).first()
            if store is None:
                raise ValueError(_("unknown store %(store)s") % {"store": repr(row["store"])})
        if kind == "purchase":
            result = purchase_record(
                member=member,
                channel=channel,
                external_id=external_id,
                occurred_at=occurred_at,
                amount=amount,
                store=store,
                actor=self.actor,
            )
            self.report.purchases += 1
            self.report.points_earned += result.points_earned
        else:
            original = None
            if (row.get("original_external_id") or "").strip():
                original = Transaction.objects.filter(
                    channel=channel, external_id=row["original_external_id"].strip()
                ).first()
                if original is None:
                    raise ValueError(
                        _("unknown purchase %(original_external_id)s")
                        % {"original_external_id": repr(row["original_external_id"])}
                    )
            result = return_record(
                channel=channel,
                external_id=external_id,
                occurred_at=occurred_at,
                amount=amount,
                original=original,
                member=None if original else member,
                store=store,
                actor=self.actor,
            )
            self.report.returns += 1
            self.report.points_reversed += result.points_reversed
        if member is None and not (kind == "return" and result.transaction.member_id):
            self.report.anonymous += 1


def write_skipped(path: Path, skipped: list[SkippedRow]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.writer(handle)
        writer.writerow(["row", "external_id", "reason"])
        for row in skipped:
            writer.writerow([row.row_number, row.external_id, row.reason])
