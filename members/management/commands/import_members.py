import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from tqdm import tqdm

from members.import_copy import CopyMemberImporter
from members.importing import (
    ImportFileError,
    MemberImporter,
    detect_encoding,
    read_rows,
    write_error_report,
)


class Command(BaseCommand):
    help = (
        "Import members from a CSV file in bulk (streaming, batched writes). Columns: see "
        "docs/members.md. Nothing is written if a row is bad, unless --skip-bad-rows."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--encoding", help="utf-8, utf-8-sig, latin-1... (detected by default)")
        parser.add_argument("--delimiter", help="field separator (sniffed by default)")
        parser.add_argument(
            "--errors", type=Path, help="error report CSV (default: PATH.errors.csv)"
        )
        parser.add_argument(
            "--skip-bad-rows", action="store_true", help="import the good rows anyway"
        )
        parser.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument(
            "--orm",
            action="store_true",
            help="on PostgreSQL, use the ORM batch path instead of COPY staging (for comparison)",
        )

    def handle(self, *args, **options) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            encoding = detect_encoding(path, options["encoding"])
        except LookupError as exc:
            raise CommandError(f"Unknown encoding {options['encoding']!r}") from exc
        # PostgreSQL: COPY into a staging table and set-based SQL (members/import_copy.py)
        use_copy = connection.vendor == "postgresql" and not options["orm"]
        importer = (CopyMemberImporter if use_copy else MemberImporter)(
            batch_size=options["batch_size"],
            skip_bad_rows=options["skip_bad_rows"],
            dry_run=options["dry_run"],
        )
        try:
            with (
                path.open(encoding=encoding, newline="") as handle,
                tqdm(unit=" rows", desc="members", file=sys.stderr, disable=None) as progress,
            ):
                report = importer.run(read_rows(handle, options["delimiter"]), progress=progress)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"The file is not {encoding}: {exc}. Try --encoding latin-1."
            ) from exc

        self.stdout.write(
            f"{report.rows} rows: {report.created} new, {report.updated} updated, "
            f"{report.unchanged} unchanged, {len(report.errors)} errors (encoding {encoding})"
        )
        if report.errors:
            errors_path = options["errors"] or path.with_suffix(path.suffix + ".errors.csv")
            write_error_report(errors_path, report.errors)
            for error in report.errors[:20]:
                self.stderr.write(f"row {error.row_number}: {error.field}: {error.message}")
            self.stderr.write(f"error report: {errors_path}")
        if options["dry_run"]:
            self.stdout.write("dry run: nothing written")
        elif not report.written:
            raise CommandError(
                "Nothing was written because of the errors above (see --skip-bad-rows)."
            )
        else:
            self.stdout.write(self.style.SUCCESS("import written"))
