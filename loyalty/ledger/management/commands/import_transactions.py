import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from loyalty.ledger.importing import TransactionImporter, check_readable, open_text, write_skipped


def default_report_path(path: Path) -> Path:
    """Reports go under var/imports/, never next to the input (it may be read-only)."""
    from django.conf import settings

    folder = Path(settings.BASE_DIR) / "var" / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{path.name}.skipped.csv"


class Command(BaseCommand):
    help = (
        "Import historical purchases and returns (points by the rules; idempotent). "
        "--format online-retail reads the UCI Online Retail line-item file (.csv or .csv.gz)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--format", choices=["online-retail", "generic"], default="generic")
        parser.add_argument(
            "--skipped", type=Path, help="report of skipped rows (default: PATH.skipped.csv)"
        )
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--per-invoice",
            action="store_true",
            help="online-retail: post every invoice through the services one by one (slow; the "
            "default bulk path gives the same result and falls back to this by itself when it "
            "cannot)",
        )

    def handle(self, *args, **options) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        importer = TransactionImporter(
            batch_size=options["batch_size"], per_invoice=options["per_invoice"]
        )
        started = time.monotonic()
        try:
            check_readable(path)
            with (
                open_text(path) as handle,
                tqdm(unit=" rows", desc="transactions", file=sys.stderr, disable=None) as bar,
            ):
                if options["format"] == "online-retail":
                    report = importer.run_online_retail(handle, progress=bar)
                else:
                    report = importer.run_generic(handle, progress=bar)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.monotonic() - started
        if options["format"] == "online-retail":
            if importer.mode == "bulk":
                self.stdout.write(
                    "bulk path (same postings as the per-invoice path, written with COPY)"
                )
            elif importer.fallback_reasons:
                self.stdout.write(
                    "per-invoice path, because: " + "; ".join(importer.fallback_reasons)
                )
        self.stdout.write(
            f"{report.rows} rows in {elapsed:.1f}s: {report.purchases} purchases, {report.returns} returns "
            f"({report.anonymous} anonymous), {report.already_imported} already imported, "
            f"{report.members_enrolled} members enrolled, {report.points_earned} points earned, "
            f"{report.points_reversed} reversed, {len(report.skipped)} rows skipped"
        )
        if report.skipped:
            skipped_path = options["skipped"] or default_report_path(path)
            write_skipped(skipped_path, report.skipped)
            reasons: dict[str, int] = {}
            for row in report.skipped:
                key = (
                    row.reason.split(" (")[0]
                    if "total of" not in row.reason
                    else "zero or negative total"
                )
                reasons[key] = reasons.get(key, 0) + 1
            for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
                self.stdout.write(f"  skipped {count:>6} rows: {reason}")
            self.stdout.write(f"skipped rows with reasons: {skipped_path}")
