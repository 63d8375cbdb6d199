"""Bulk point adjustments and opening balances from CSV, idempotent per file and row.

Columns: member_number (or member_ref, the member's id in the source system), points, reason
(adjustments; optional for opening balances), expires_on (opening balances, optional,
YYYY-MM-DD). Each row is posted with the idempotency key import:<file sha256>:<row>, so running
the same file again posts nothing twice, and a fixed file posts only its new rows.
"""

import csv
import hashlib
import sys
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from loyalty.core import csvsafe
from loyalty.core.exceptions import ApplicationError
from loyalty.ledger.importing import check_readable, refuse_repeated_columns
from loyalty.ledger.policy import programme_settings_get
from loyalty.ledger.services import points_adjust, points_opening_balance
from members.models import Member


class Command(BaseCommand):
    help = (
        "Post point adjustments or opening balances from a CSV file (idempotent per file and row)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--kind", choices=["adjust", "opening"], required=True)
        parser.add_argument(
            "--user", required=True, help="the staff user the entries are attributed to"
        )
        parser.add_argument("--errors", type=Path, help="row error report (default: var/imports/)")

    def handle(self, *args, **options) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        user = get_user_model().objects.filter(username=options["user"], is_staff=True).first()
        if user is None:
            raise CommandError(f"No staff user {options['user']!r}.")
        try:
            check_readable(path)  # refused whole, before any row is posted
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        zone = ZoneInfo(programme_settings_get().time_zone)
        errors: list[tuple[int, str]] = []
        posted = replayed = 0
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = set(reader.fieldnames or [])
            if "points" not in columns or not ({"member_number", "member_ref"} & columns):
                raise CommandError("The header needs points and member_number (or member_ref).")
            try:
                refuse_repeated_columns(reader.fieldnames or [])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            for number, row in enumerate(
                tqdm(reader, unit=" rows", file=sys.stderr, disable=None), start=1
            ):
                try:
                    _, created = self._row(row, number, digest, options["kind"], user, zone)
                    posted += created
                    replayed += not created
                except (ApplicationError, ValidationError, ValueError) as exc:
                    message = (
                        exc.message
                        if isinstance(exc, ApplicationError)
                        else "; ".join(getattr(exc, "messages", [str(exc)]))
                    )
                    errors.append((number, message))
        self.stdout.write(f"{posted} posted, {replayed} already posted, {len(errors)} rows refused")
        if errors:
            report = options["errors"] or Path("var/imports") / f"{path.name}.errors.csv"
            report.parent.mkdir(parents=True, exist_ok=True)
            with report.open("w", newline="") as out:
                writer = csvsafe.writer(out)
                writer.writerow(["row", "error"])
                writer.writerows(errors)
            for number, message in errors[:20]:
                self.stderr.write(f"row {number}: {message}")
            self.stderr.write(f"error report: {report}")

    def _row(self, row, number, digest, kind, user, zone):  # type: ignore[no-untyped-def]
        from loyalty.ledger.models import LedgerEntry

        number_value = (row.get("member_number") or "").strip()
        ref = (row.get("member_ref") or "").strip()
        member = (
            Member.objects.filter(member_number=number_value).first()
            if number_value
            else Member.objects.filter(external_ref=ref).first()
            if ref
            else None
        )
        if member is None:
            raise ValueError(f"unknown member {number_value or ref or '(none given)'}")
        try:
            points = int((row.get("points") or "").strip())
        except ValueError:
            raise ValueError(f"points must be a whole number, not {row.get('points')!r}") from None
        key = f"import:{digest}:{number}"
        existing = LedgerEntry.objects.filter(account__member=member, idempotency_key=key).first()
        if existing is not None:
            return existing, False
        reason = (row.get("reason") or "").strip()
        if kind == "adjust":
            return points_adjust(
                member=member, points=points, reason=reason, actor=user, idempotency_key=key
            ), True
        if points <= 0:
            raise ValueError("an opening balance is a positive number of points")
        expires = (row.get("expires_on") or "").strip()
        expires_at = None
        if expires:
            day = date.fromisoformat(expires)
            expires_at = datetime.combine(day, time.max, tzinfo=zone)
        return (
            points_opening_balance(
                member=member,
                points=points,
                idempotency_key=key,
                actor=user,
                reason=reason or "opening balance",
                expires_at=expires_at,
            ),
            True,
        )
