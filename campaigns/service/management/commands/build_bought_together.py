import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from campaigns.service.services import SKUS_PER_BATCH, TOP_PER_SKU, bought_together_rebuild


class Command(BaseCommand):
    help = (
        "Recount which products are bought together (from every purchase's lines) into the "
        "bought-together table; what the nightly job does. Progress bar on stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--top", type=int, default=TOP_PER_SKU, help="Products kept per product (20)."
        )
        parser.add_argument(
            "--batch", type=int, default=SKUS_PER_BATCH, help="Products per statement (200)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["top"] < 1 or options["batch"] < 1:
            self.stderr.write("--top and --batch must be at least 1")
            sys.exit(2)
        with tqdm(unit=" products", file=sys.stderr, disable=None) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            rows = bought_together_rebuild(
                top=options["top"], batch=options["batch"], progress=progress
            )
        self.stdout.write(self.style.SUCCESS(f"{rows} bought-together rows written"))
