import time
from typing import Any

from django.core.management.base import BaseCommand

from loyalty.ledger.stats import purchase_stats_refresh


class Command(BaseCommand):
    help = (
        "Recompute every member's purchase statistics (purchases, net spend, first and last "
        "purchase) from the transactions; the purchase path and the bulk import keep them "
        "current, this repairs them (also run nightly)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        rows = purchase_stats_refresh()
        self.stdout.write(
            f"{rows} members' purchase statistics ({time.perf_counter() - started:.1f} s)"
        )
