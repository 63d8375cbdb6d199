from datetime import UTC, date, datetime, time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from campaigns.service.selectors import (
    PRODUCTS_SHOWN,
    REWARDS_SHOWN,
    bought_together_for_sku,
    member_suggestions,
)
from members.models import Member


class Command(BaseCommand):
    help = (
        "Print what to suggest to a member (what the clerk screen and the API show): products "
        "bought together with what they bought, and rewards within reach. Or, with --sku, the "
        "products most often bought with one product."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "member", nargs="*", help="Card number or external reference (e.g. 12583)."
        )
        parser.add_argument("--sku", help="Show the products bought together with this sku.")
        parser.add_argument("--products", type=int, default=PRODUCTS_SHOWN)
        parser.add_argument("--rewards", type=int, default=REWARDS_SHOWN)
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            help="Balances and rewards as on this day (end of day, e.g. 2011-12-10 for a "
            "historical data set whose points have expired since); default now.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["sku"]:
            self.stdout.write(f"Bought together with {options['sku']}:")
            for row in bought_together_for_sku(sku=options["sku"], limit=options["products"]):
                self.stdout.write(f"  {row.rank}. {row.other_sku}  {row.purchases} purchases")
        for ref in options["member"]:
            member = Member.objects.filter(Q(member_number=ref) | Q(external_ref=ref)).first()
            if member is None:
                raise CommandError(f"No member with card number or reference {ref}.")
            now = None
            if options["as_of"]:
                now = datetime.combine(options["as_of"], time.max, tzinfo=UTC)
            result = member_suggestions(
                member=member, products=options["products"], rewards=options["rewards"], now=now
            )
            self.stdout.write(
                f"Member {member.member_number} (ref {member.external_ref or '-'}); "
                f"'often' = {result.often_purchases}+ purchases, "
                f"'soon' = at most {result.soon_points} points short"
            )
            self.stdout.write("  products:")
            for p in result.products:
                self.stdout.write(f"    {p.sku}  score {p.score}  because {', '.join(p.because)}")
            self.stdout.write("  rewards:")
            for r in result.rewards:
                state = "now" if r.can_redeem else f"{r.points_short} points short"
                self.stdout.write(
                    f"    {r.reward.code} ({r.reward.points_cost} points): {state}, "
                    f"matches {r.matches}"
                )
