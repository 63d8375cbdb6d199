import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from loyalty.core.exceptions import ApplicationError
from loyalty.tiers.services import tier_recalculate
from members.models import Member


class Command(BaseCommand):
    help = (
        "Re-grade every member on the current tier rules (after a threshold or window change). "
        "Prints the tier distribution before and after and the moves; --dry-run writes nothing."
    )

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would move; change nothing."
        )

    def handle(self, *args, **options) -> None:
        dry_run = options["dry_run"]
        total = Member.objects.exclude(status=Member.Status.CLOSED).count()
        try:
            with tqdm(total=total, unit=" members", file=sys.stderr, disable=None) as bar:
                result = tier_recalculate(dry_run=dry_run, progress=bar.update)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if not result.before and not result.after:
            self.stdout.write("No tiers are defined; nothing to do.")
            return
        codes = list(dict.fromkeys([*result.after, *result.before]))
        width = max(len(code or "(none)") for code in codes)
        self.stdout.write(f"{'tier':<{width}}  {'before':>8}  {'after':>8}  {'change':>8}")
        for code in codes:
            before, after = result.before.get(code, 0), result.after.get(code, 0)
            label = code or "(none)"
            self.stdout.write(f"{label:<{width}}  {before:>8}  {after:>8}  {after - before:>+8}")
        self.stdout.write(f"{'total':<{width}}  {result.members:>8}  {result.members:>8}")
        if result.moves:
            self.stdout.write("")
            self.stdout.write("moves:")
            for (old, new), count in sorted(result.moves.items(), key=lambda item: -item[1]):
                self.stdout.write(f"  {old or '(none)'} -> {new}: {count}")
        verb = "would move" if dry_run else "moved"
        message = f"{result.moved} member(s) {verb}."
        if dry_run:
            message += " Dry run: nothing was changed."
        self.stdout.write(self.style.SUCCESS(message))
