import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from loyalty.ledger.models import PointsAccount
from loyalty.ledger.services import ledger_reconcile


class Command(BaseCommand):
    help = "Prove balance = sum(entries) = lots remaining - debt for every account; exit 1 on mismatch."

    def handle(self, *args, **options) -> None:
        with tqdm(
            total=PointsAccount.objects.count(), unit=" accounts", file=sys.stderr, disable=None
        ) as bar:
            mismatches = ledger_reconcile(progress=bar)
        for m in mismatches:
            self.stderr.write(
                f"account {m.account_id} (member {m.member_id}): cached {m.cached_balance}, "
                f"entries {m.entries_sum}, lots-debt {m.lots_minus_debt}, last balance_after {m.last_balance_after}"
            )
        if mismatches:
            self.stderr.write(f"{len(mismatches)} account(s) do not reconcile")
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("every account reconciles"))
