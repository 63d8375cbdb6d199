"""The bulk member import (the large-file path; the admin uses django-import-export per row).

Streams the CSV, validates each row like the services do, and writes in batches with
bulk_create/bulk_update, looking existing members up once per batch. Rows are matched by member
number, else e-mail, else phone; an unchanged row is left alone, so re-importing a file changes
nothing. Without skip_bad_rows any bad row means nothing is written (one transaction).
"""

import codecs
import csv
import io
from collections.abc import Iterator, Set
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from loyalty.core import csvsafe
from members.identifiers import (
    is_valid_member_number,
    new_member_number,
    new_referral_code,
    normalize_email,
    normalize_phone,
    phone_region_pinned,
)
from members.identities import KINDS as IDENTITY_KINDS
from members.identities import LIST_COLUMN as IDENTITY_LIST_COLUMN
from members.identities import identities_from_row, identities_holders
from members.models import Consent, Member, MemberIdentity, Store
from members.names import FULL_NAME_MAX_LENGTH, name_fields
from members.services import (
    consent_events_record,
    members_enrolled_record,
    members_updated_record,
)

IMPORT_REASON = "bulk import"

HEADER_ALIASES = {
    "member_number": {
        "member_number",
        "member number",
        "card",
        "card_number",
        "card number",
        "member no",
        "customerid",
        "customer_id",
    },
    "full_name": {"full_name", "full name", "name", "customer name", "姓名"},
    "first_name": {"first_name", "first name", "firstname", "given name", "forename"},
    "last_name": {"last_name", "last name", "lastname", "surname", "family name"},
    "email": {"email", "e-mail", "email_address", "email address", "mail"},
    "phone": {"phone", "mobile", "telephone", "phone_number", "phone number", "tel", "cell"},
    "birth_date": {"birth_date", "birth date", "birthdate", "date of birth", "dob", "birthday"},
    "street": {"street", "address", "address1", "street address"},
    "city": {"city", "town"},
    "postcode": {"postcode", "postal code", "zip", "zip code", "postal_code"},
    "country": {"country", "country code", "country_code"},
    "home_store": {"home_store", "home store", "store", "store code", "store_code"},
    "external_ref": {"external_ref", "external id", "external_id", "source id"},
    "email_consent": {"email_consent", "email consent", "consent_email", "newsletter"},
    "sms_consent": {"sms_consent", "sms consent", "consent_sms"},
    # external ids (members/identities.py): a column per kind, or one kind:value list
    **{kind: {kind, kind.replace("_", " ")} for kind in IDENTITY_KINDS},
    IDENTITY_LIST_COLUMN: {IDENTITY_LIST_COLUMN, "external ids"},
}
PROFILE = (
    "full_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "street",
    "city",
    "postcode",
    "country",
    "home_store_id",
    "external_ref",
)
TRUE = {"1", "true", "yes", "y", "x", "t"}
FALSE = {"", "0", "false", "no", "n", "f"}


class ImportFileError(Exception):
    """The file as a whole cannot be read (encoding, header, empty)."""


@dataclass
class RowError:
    row_number: int  # 1-based data row number (the header is row 0)
    field: str
    message: str
    raw: dict[str, str]


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    written: bool = False


def detect_encoding(path: Path, requested: str | None = None) -> str:
    if requested:
        codecs.lookup(requested)
        return requested
    with path.open("rb") as handle:
        head = handle.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            return "latin-1"


def map_header(header: list[str]) -> dict[str, int]:
    mapping: dict[str, int] = {}
    for index, name in enumerate(header):
        key = name.strip().lower().replace("\ufeff", "")
        for canonical, aliases in HEADER_ALIASES.items():
            if key in aliases:
                if canonical in mapping:  # which one is meant? refuse rather than guess
                    raise ImportFileError(
                        _("Two columns are %(canonical)s: %(value)s and %(name)s. Keep one.")
                        % {
                            "canonical": canonical,
                            "value": repr(header[mapping[canonical]]),
                            "name": repr(name),
                        }
                    )
                mapping[canonical] = index
    usable = {"email", "phone", "full_name", "last_name", "first_name", "member_number"}
    if not (usable & set(mapping)):
        raise ImportFileError(
            _(
                "No usable column: the header needs at least one of member_number, full_name, "
                "first_name, last_name, email, phone (found: %(value)s)."
            )
            % {"value": ", ".join(header) or _("nothing")}
        )
    return mapping


def _parse_bool(value: str, column: str) -> bool:
    value = value.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValidationError({column: _("Not a yes/no value: %(value)s.") % {"value": repr(value)}})


def clean_row(
    raw: dict[str, str],
    stores: dict[str, int],
    *,
    known_emails: Set[str] = frozenset(),
    known_phones: Set[str] = frozenset(),
) -> dict[str, Any]:
    """Validate and normalise one row; raises ValidationError with field errors.

    known_emails / known_phones: values a member already holds, so already normalised (every
    write path normalises them); a value found there as written is taken as it is.
    """
    errors: dict[str, str] = {}
    row: dict[str, Any] = {}
    for name, value in raw.items():
        if "\x00" in (value or ""):  # PostgreSQL text cannot hold it (COPY and INSERT fail)
            errors[name] = _("Contains a NUL character.")
    if errors:
        raise ValidationError(errors)
    number = raw.get("member_number", "").strip()
    if number and not is_valid_member_number(number):
        errors["member_number"] = _("Not a valid card number (check digit).")
    row["member_number"] = number
    for name, limit in (
        ("full_name", FULL_NAME_MAX_LENGTH),
        ("first_name", 100),
        ("last_name", 100),
        ("street", 200),
        ("city", 100),
        ("postcode", 20),
        ("external_ref", 64),
    ):
        value = raw.get(name, "").strip()
        if len(value) > limit:
            errors[name] = _("Longer than %(limit)s characters.") % {"limit": limit}
        row[name] = value
    for name, normalize, known in (
        ("email", normalize_email, known_emails),
        ("phone", normalize_phone, known_phones),
    ):
        given = raw.get(name)
        if given and known and (stripped := given.strip()) in known:
            row[name] = stripped
            continue
        try:
            row[name] = normalize(given)
        except ValidationError as exc:
            errors[name] = exc.messages[0]
    birth = raw.get("birth_date", "").strip()
    row["birth_date"] = None
    if birth:
        try:
            row["birth_date"] = date.fromisoformat(birth)
            if not date(1900, 1, 1) <= row["birth_date"] <= timezone.localdate():
                errors["birth_date"] = _("Birth date out of range.")
        except ValueError:
            errors["birth_date"] = _("Not a date (YYYY-MM-DD): %(value)s.") % {"value": repr(birth)}
    country = raw.get("country", "").strip().upper()
    if country and (len(country) != 2 or not country.isalpha()):
        errors["country"] = _("Not an ISO 3166 two-letter code: %(value)s.") % {
            "value": repr(country)
        }
    row["country"] = country
    store_code = raw.get("home_store", "").strip().upper()
    row["home_store_id"] = None
    if store_code:
        if store_code not in stores:
            errors["home_store"] = _("Unknown store %(code)s.") % {"code": repr(store_code)}
        row["home_store_id"] = stores.get(store_code)
    for channel in ("email", "sms"):
        column = f"{channel}_consent"
        if column in raw:
            try:
                row[column] = _parse_bool(raw[column], column)
            except ValidationError as exc:
                errors[column] = exc.messages[0]
    try:
        row["identities"] = identities_from_row(raw)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors[name] = " ".join(messages)
    keys = ("member_number", "email", "phone", "full_name", "first_name", "last_name")
    if not any(row.get(k) for k in keys):
        errors["row"] = _("Empty row: no card number, name, e-mail or phone.")
    if errors:
        raise ValidationError(errors)
    return row


def read_rows(handle: IO[str], delimiter: str | None) -> Iterator[tuple[int, dict[str, str]]]:
    sample = handle.read(64 * 1024)
    if not sample.strip():
        raise ImportFileError(_("The file is empty."))
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(sample.splitlines()[0], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(_chain(sample, handle), delimiter=delimiter)
    records = _records(reader)
    header = next(records, None)
    if not header:
        raise ImportFileError(_("The file is empty."))
    mapping = map_header(header)
    any_row = False
    for number, values in enumerate(records, start=1):
        if not any(v.strip() for v in values):
            continue
        any_row = True
        yield (
            number,
            {name: values[index] if index < len(values) else "" for name, index in mapping.items()},
        )
    if not any_row:
        raise ImportFileError(_("The file has a header but no rows."))


def _records(reader: Any) -> Iterator[list[str]]:
    """The reader's records; a broken one (a field over csv.field_size_limit(), a stray quote)
    refuses the file, naming its line, instead of escaping as a crash."""
    try:
        yield from reader
    except csv.Error as exc:
        raise ImportFileError(
            _("Line %(line_num)s: %(exc)s.") % {"line_num": reader.line_num, "exc": exc}
        ) from exc


def _chain(sample: str, handle: IO[str]) -> Iterator[str]:
    """Lines of the already-read sample, then the rest of the stream (constant memory)."""
    rest = io.StringIO(sample)
    pending = ""
    for line in rest:
        pending = line
        if line.endswith("\n"):
            yield line
            pending = ""
    for line in handle:
        if pending:
            line, pending = pending + line, ""
        yield line
    if pending:
        yield pending


class MemberImporter:
    def __init__(
        self, *, batch_size: int = 2000, skip_bad_rows: bool = False, dry_run: bool = False
    ):
        self.batch_size = batch_size
        self.skip_bad_rows = skip_bad_rows
        self.dry_run = dry_run
        self.stores = dict(Store.objects.values_list("code", "id"))
        self.report = ImportReport()
        self._keys_in_file: dict[str, int] = {}

    def run(self, rows: Iterator[tuple[int, dict[str, str]]], progress: Any = None) -> ImportReport:
        with phone_region_pinned():  # the programme's region, read once for the file
            return self._run(rows, progress)

    def _run(
        self, rows: Iterator[tuple[int, dict[str, str]]], progress: Any = None
    ) -> ImportReport:
        with transaction.atomic():
            batch: list[tuple[int, dict[str, str], dict[str, Any]]] = []
            for number, raw in rows:
                self.report.rows += 1
                if progress is not None:
                    progress.update(1)
                try:
                    cleaned = clean_row(raw, self.stores)
                    self._check_duplicate_in_file(number, cleaned)
                except ValidationError as exc:
                    for name, messages in exc.message_dict.items():
                        self.report.errors.append(RowError(number, name, "; ".join(messages), raw))
                    continue
                batch.append((number, raw, cleaned))
                if len(batch) >= self.batch_size:
                    self._write(batch)
                    batch = []
            if batch:
                self._write(batch)
            failed = bool(self.report.errors) and not self.skip_bad_rows
            if failed or self.dry_run:
                transaction.set_rollback(True)
            else:
                self.report.written = True
        self.report.errors.sort(key=lambda e: e.row_number)  # stable: a row's fields keep order
        return self.report

    def _check_duplicate_in_file(self, number: int, row: dict[str, Any]) -> None:
        for key in ("member_number", "email", "phone"):
            value = row.get(key)
            if not value:
                continue
            first = self._keys_in_file.setdefault(f"{key}:{value}", number)
            if first != number:
                raise ValidationError(
                    {
                        key: _("Same %(replace)s as row %(first)s of this file.")
                        % {"replace": key.replace("_", " "), "first": first}
                    }
                )
        for kind, value in row.get("identities") or ():
            first = self._keys_in_file.setdefault(f"identity:{kind}:{value}", number)
            if first != number:
                raise ValidationError(
                    {IDENTITY_LIST_COLUMN: f"Same {kind} id {value} as row {first} of this file."}
                )

    def _write(self, batch: list[tuple[int, dict[str, str], dict[str, Any]]]) -> None:
        numbers = {row["member_number"] for _, _, row in batch if row["member_number"]}
        emails = {row["email"] for _, _, row in batch if row["email"]}
        phones = {row["phone"] for _, _, row in batch if row["phone"]}
        existing = (
            Member.objects.filter(member_number__in=numbers)
            | Member.objects.filter(email__in=emails)
            | Member.objects.filter(phone__in=phones)
        )
        by_number: dict[str, Member] = {}
        by_email: dict[str, Member] = {}
        by_phone: dict[str, Member] = {}
        for known in existing.only(
            "id",
            "member_number",
            "status",
            "email",
            "phone",
            *[f for f in PROFILE if f not in ("email", "phone")],
        ):
            by_number[known.member_number] = known
            if known.email:
                by_email[known.email] = known
            if known.phone:
                by_phone[known.phone] = known

        now = timezone.now()
        to_create: list[Member] = []
        to_update: list[Member] = []
        consents: list[tuple[Member, dict[str, Any]]] = []
        changed_by_member: dict[int, list[str]] = {}
        identities_held = identities_holders(
            {pair for _, _, row in batch for pair in row["identities"]}
        )
        new_identities: list[tuple[Member, tuple[str, str]]] = []
        only_identities: list[Member] = []  # existing members whose only change is a new id
        for number, raw, row in batch:
            member = (
                by_number.get(row["member_number"])
                if row["member_number"]
                else by_email.get(row["email"]) or by_phone.get(row["phone"])
            )
            conflict = self._contact_conflict(member, row, by_email, by_phone)
            if conflict:
                self.report.errors.append(
                    RowError(
                        number,
                        conflict,
                        _("Another member already has this email.")
                        if conflict == "email"
                        else _("Another member already has this phone."),
                        raw,
                    )
                )
                continue
            taken = [
                pair
                for pair in row["identities"]
                if identities_held.get(pair) not in (None, member.pk if member else None)
            ]
            if taken:
                kind, value = taken[0]
                self.report.errors.append(
                    RowError(
                        number,
                        IDENTITY_LIST_COLUMN,
                        f"Another member already has the {kind} id {value}.",
                        raw,
                    )
                )
                continue
            added = [pair for pair in row["identities"] if pair not in identities_held]
            if member is None:
                member = Member(
                    member_number=row["member_number"] or new_member_number(),
                    referral_code=new_referral_code(),
                    enrolment_channel=Member.Channel.IMPORT,
                    enrolled_at=now,
                    status_changed_at=now,
                    **{f: row[f] for f in PROFILE},
                )
                member.fill_name_fields()  # bulk_create does not call save()
                to_create.append(member)
                self.report.created += 1
            else:
                changed = [
                    f for f in PROFILE if row[f] not in (None, "") and getattr(member, f) != row[f]
                ]
                if not changed and not added:
                    self.report.unchanged += 1
                elif not changed:
                    only_identities.append(member)
                    self.report.updated += 1
                else:
                    previous = (member.first_name, member.last_name, member.full_name)
                    for f in changed:
                        setattr(member, f, row[f])
                    # a full name made from the parts follows them; one typed by hand stays
                    # (written with the row; the history lists what the file changed)
                    member.full_name, member.name_pinyin = name_fields(
                        given=member.first_name,
                        family=member.last_name,
                        full_name=member.full_name,
                        previous=previous,
                    )
                    member.updated_at = now
                    to_update.append(member)
                    changed_by_member[id(member)] = [f.removesuffix("_id") for f in changed]
                    if added:
                        changed_by_member[id(member)].append("identities")
                    self.report.updated += 1
            new_identities.extend((member, pair) for pair in added)
            if "email_consent" in row or "sms_consent" in row:
                consents.append((member, row))
        if self.report.errors and not self.skip_bad_rows:
            return  # the whole import will be rolled back; don't spend time writing
        # The audit trail is kept on the bulk path too, with simple-history's bulk helpers: one
        # extra batched INSERT of history rows per batch (no per-row signals), so a member created
        # or changed by an import has its first version on record like any other change.
        self._redraw_taken_numbers(to_create, given={r["member_number"] for _, _, r in batch})
        bulk_create_with_history(
            to_create, Member, batch_size=self.batch_size, default_change_reason=IMPORT_REASON
        )
        if to_update:
            bulk_update_with_history(
                to_update,
                Member,
                [*PROFILE, "name_pinyin", "updated_at"],
                batch_size=self.batch_size,
                default_change_reason=IMPORT_REASON,
            )
        # what member_enroll / member_update / consent_set record besides the rows, in bulk:
        # consent rows and events, enrolment and update events, the starting tier, webhooks
        created = {id(m) for m in to_create}
        members_enrolled_record(
            members=to_create,
            channel=Member.Channel.IMPORT,
            granted={
                m.pk: {c: row[f"{c}_consent"] for c in ("email", "sms") if f"{c}_consent" in row}
                for m, row in consents
                if id(m) in created
            },
        )
        MemberIdentity.objects.bulk_create(
            MemberIdentity(member_id=m.pk, kind=kind, value=value, created_at=now, updated_at=now)
            for m, (kind, value) in new_identities
        )
        members_updated_record(
            changes=[
                *((m, changed_by_member[id(m)]) for m in to_update),
                *((m, ["identities"]) for m in only_identities),
            ]
        )
        consent_changes = []
        for member, row in consents:
            if id(member) in created:
                continue
            for channel in ("email", "sms"):
                if f"{channel}_consent" in row:
                    granted = row[f"{channel}_consent"]
                    if (
                        Consent.objects.filter(member=member, channel=channel)
                        .exclude(granted=granted)
                        .update(granted=granted, changed_at=now, source="import")
                    ):
                        consent_changes.append((member.pk, channel, granted))
        consent_events_record(changes=consent_changes, source="import")

    @staticmethod
    def _redraw_taken_numbers(members: list[Member], *, given: set[str]) -> None:
        """A card number or referral code drawn for a new member that a member already has (or
        another new row drew) is drawn again, so a rare clash never fails the batch: one query
        per field for the batch, more only when something clashed."""
        for name, draw in (
            ("member_number", new_member_number),
            ("referral_code", new_referral_code),
        ):
            drawn = [m for m in members if name != "member_number" or m.member_number not in given]
            for _attempt in range(20):
                values = [getattr(m, name) for m in drawn]
                taken = set(
                    Member.objects.filter(**{f"{name}__in": values}).values_list(name, flat=True)
                )
                seen: set[str] = set(given) if name == "member_number" else set()
                clashes = []
                for member in drawn:
                    value = getattr(member, name)
                    if value in taken or value in seen:
                        clashes.append(member)
                    seen.add(value)
                if not clashes:
                    break
                for member in clashes:
                    setattr(member, name, draw())
            else:
                raise RuntimeError(f"could not draw free values for {name}")

    @staticmethod
    def _contact_conflict(
        member: Member | None, row: dict[str, Any], by_email: dict, by_phone: dict
    ) -> str | None:
        for key, index in (("email", by_email), ("phone", by_phone)):
            other = index.get(row[key]) if row[key] else None
            if other is not None and (member is None or other.pk != member.pk):
                return key
        return None


def write_error_report(path: Path, errors: list[RowError]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.writer(handle)
        writer.writerow(["row", "field", "error", "data"])
        for error in errors:
            writer.writerow(
                [error.row_number, error.field, error.message, "|".join(error.raw.values())]
            )
