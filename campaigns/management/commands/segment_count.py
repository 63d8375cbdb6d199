"""Count a segment's members now or as of a date, and say how long the one query took."""

import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Segment
from campaigns.segments import segment_count


class Command(BaseCommand):
    help = "Count the members of a segment (by name), optionally as of a date."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument("--as-of", type=date.fromisoformat, default=None)

    def handle(self, *args: Any, **opts: Any) -> None:
        segment = Segment.objects.filter(name=opts["name"]).first()
        if segment is None:
            raise CommandError(f"No segment named {opts['name']!r}.")
        started = time.perf_counter()
        count = segment_count(segment, as_of=opts["as_of"])
        took = time.perf_counter() - started
        self.stdout.write(f"{segment.name}: {count} members ({took:.3f} s)")
