import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from loyalty.bench.benchdata import Generator


class Command(BaseCommand):
    help = (
        "Generate benchmark members with a realistic purchase history (COPY on PostgreSQL, bulk "
        "INSERT on SQLite); see loyalty/bench/benchdata.py for the shape. Adds to what is there."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--members", type=int, required=True)
        parser.add_argument("--transactions", type=int, required=True, help="purchases")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--shape",
            type=Path,
            help="online_retail_invoices.csv to draw counts and amounts from "
            "(default: ../shared/data/online_retail_invoices.csv, else a built-in shape)",
        )
        parser.add_argument(
            "--jobs",
            type=int,
            help="processes writing chunks of members at once on PostgreSQL, each with its own "
            "connection (default 2 when there is more than one chunk; always 1 on SQLite); the "
            "same seed gives the same data whatever the number, only the ids differ",
        )

    def handle(self, *args, **options) -> None:
        if options["members"] < 1 or options["transactions"] < 0:
            raise CommandError("--members must be at least 1 and --transactions at least 0.")
        if options["jobs"] is not None and options["jobs"] < 1:
            raise CommandError("--jobs must be at least 1.")
        with tqdm(total=options["members"], unit=" members", file=sys.stderr, disable=None) as bar:
            report = Generator(
                members=options["members"],
                transactions=options["transactions"],
                seed=options["seed"],
                shape_path=options["shape"],
                progress=bar,
                jobs=options["jobs"],
            ).run()
        self.stdout.write(
            f"{report.members} members, {report.purchases} purchases, {report.returns} returns, "
            f"{report.entries} ledger entries, {report.lots} lots, {report.redemptions} "
            f"redemptions ({report.vouchers} vouchers), {report.tier_rows} tier rows in "
            f"{report.seconds:.1f}s (shape: {report.shape})"
        )
