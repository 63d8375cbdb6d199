import json
import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from campaigns.engagement.services import engagement_nightly
from members.models import Member


class Command(BaseCommand):
    help = (
        "Run the engagement nightly job now: streaks, lifecycle stages, badge catch-up, members "
        "per stage today and last month's VIP. Idempotent. Prints what it did and, with --json, "
        "the seconds of each step and rows per second (the benchmark reads it)."
    )

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--json", action="store_true", help="Print one JSON line.")

    def handle(self, *args, **options) -> None:
        members = Member.objects.filter(erased_at__isnull=True).count()
        steps = 5
        with tqdm(total=steps, unit=" steps", file=sys.stderr, disable=None) as bar:

            def progress(step: str) -> None:
                bar.set_description(step)
                if bar.n < steps and step != "streaks":
                    bar.update(1)

            result = engagement_nightly(progress=progress)
            bar.update(steps - bar.n)
        seconds = sum(result.seconds.values())
        summary = {
            "members": members,
            "streaks": result.streaks,
            "stages_changed": result.stages_changed,
            "badges_awarded": result.badges_awarded,
            "stage_counts": result.stage_counts,
            "vip_member_id": result.vip.member_id if result.vip else None,
            "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
            "members_per_second": round(members / seconds, 1) if seconds else None,
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        self.stdout.write(
            f"{members} members: {result.streaks} streaks computed, {result.stages_changed} "
            f"stage changes, {result.badges_awarded} badges awarded."
        )
        for stage, count in sorted(result.stage_counts.items()):
            self.stdout.write(f"  {stage}: {count}")
        if result.vip:
            self.stdout.write(f"VIP of {result.vip.month:%B %Y}: member {result.vip.member_id}")
        self.stdout.write(self.style.SUCCESS(f"Done in {seconds:.1f} s."))
