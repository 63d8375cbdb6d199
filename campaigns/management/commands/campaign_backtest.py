"""Launch a win-back campaign "as of" a past date over a lapsed-regulars segment and measure it.

    manage.py campaign_backtest --as-of 2011-09-01 --end 2011-12-10 --min-purchases 3 \
        --lapsed-days 90 --holdout 10

Builds (or reuses) the segment "<min> or more purchases before <as-of> and none in the
<lapsed> days before it", evaluates it as of that date, launches a win-back campaign over it as
of that date with the holdout share (fixed by the stable hash), and prints the targeted and
holdout reactivation rates (purchased at least once in [as-of, end)) and the lift with its 95%
confidence interval (campaigns/results.py). Nothing is awarded: the history is already in the
database, so on a real history where no bonus was given this is an A/A check (the interval
should contain 0).
"""

import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from campaigns.models import Campaign, Segment, SegmentCondition
from campaigns.results import campaign_results
from campaigns.segments import as_of_moment, segment_count
from campaigns.services import campaign_status_change


class Command(BaseCommand):
    help = "Back-test a win-back campaign with a holdout on past data (A/A check)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--as-of", type=date.fromisoformat, required=True)
        parser.add_argument("--end", type=date.fromisoformat, required=True, help="exclusive")
        parser.add_argument("--min-purchases", type=int, default=3)
        parser.add_argument("--lapsed-days", type=int, default=90)
        parser.add_argument("--holdout", type=int, default=10)
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        as_of, end = as_of_moment(opts["as_of"]), as_of_moment(opts["end"])
        if end <= as_of:
            raise CommandError("--end must be after --as-of")
        name = opts["name"] or (
            f"{opts['min_purchases']}+ purchases, none in {opts['lapsed_days']} days "
            f"before {opts['as_of']}"
        )
        with transaction.atomic():
            segment, made = Segment.objects.get_or_create(name=name)
            if made:
                for field, op, value in (
                    ("purchase_count", "gte", str(opts["min_purchases"])),
                    ("last_purchase", "not_within", str(opts["lapsed_days"])),
                ):
                    condition = SegmentCondition(
                        segment=segment, field=field, operator=op, value=value
                    )
                    condition.full_clean()
                    condition.save()
        started = time.perf_counter()
        count = segment_count(segment, as_of=as_of)
        took = time.perf_counter() - started
        self.stdout.write(
            f"segment {segment.name!r} as of {opts['as_of']}: {count} members ({took:.2f} s)"
        )
        campaign = Campaign.objects.filter(name=f"Win-back: {name}"[:120]).first()
        if campaign is None:
            campaign = Campaign(
                name=f"Win-back: {name}"[:120],
                goal="A/A back-test: reactivation of lapsed regulars",
                segment=segment,
                mechanic=Campaign.Mechanic.WIN_BACK,
                bonus_points=1,
                lapsed_days=opts["lapsed_days"],
                starts_at=as_of,
                ends_at=end,
                holdout_percent=opts["holdout"],
            )
            campaign.full_clean()
            campaign.save()
            campaign = campaign_status_change(
                campaign=campaign, to_status=Campaign.Status.ACTIVE, reason="back-test", now=as_of
            )
            # a back-test must not run live: it ends at once (the audience stays as launched)
            campaign = campaign_status_change(
                campaign=campaign, to_status=Campaign.Status.ENDED, reason="back-test", now=as_of
            )
        results = campaign_results(campaign, start=as_of, end=end)
        t, h = results.targeted, results.holdout
        self.stdout.write(
            f"campaign {campaign.name!r} (id {campaign.pk}), window {opts['as_of']} to {opts['end']} (exclusive)"
        )
        for label, group in (("targeted", t), ("holdout", h)):
            rate = f"{100 * group.response_rate:.2f}%" if group.response_rate is not None else "-"
            self.stdout.write(
                f"  {label:8}: {group.members} members, {group.purchasers} reactivated ({rate}), "
                f"{group.repeaters} with 2+ purchases, revenue per member {group.revenue_per_member}"
            )
        lift, low, high = results.lift, results.lift_low, results.lift_high
        if lift is None or low is None or high is None:  # all three or none
            self.stdout.write("  lift: needs members in both groups")
        else:
            self.stdout.write(
                f"  lift: {lift:+.2f} percentage points, 95% CI [{low:+.2f}, {high:+.2f}] "
                f"({'contains' if low <= 0 <= high else 'excludes'} 0)"
            )
