"""Times the admin member import (django-import-export) on the benchmark database: our
MemberResource against a ModelResource with the library's default options, on the same file,
through the resource API (`resource.import_data(dataset, dry_run=False)`, what the admin's
confirm step runs). Run by tests/perf/run.py; prints JSON.

Usage: admin_import.py FILE REPEATS. Each import runs in a transaction rolled back afterwards, so
every run starts from the same members (all rows of FILE are new).
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from import_export import resources  # noqa: E402
from import_export.formats.base_formats import CSV  # noqa: E402

from members.identifiers import new_referral_code  # noqa: E402
from members.models import Member  # noqa: E402
from members.resources import MemberResource  # noqa: E402


class DefaultMemberResource(resources.ModelResource):
    """django-import-export's defaults: per-row lookup, diff, savepoint and save(). Only what a
    member row needs to be saved at all is added (the NOT NULL columns a file does not carry)."""

    class Meta:
        model = Member
        fields = ("member_number", "first_name", "last_name", "email", "phone", "city", "country")
        import_id_fields = ("member_number",)

    def before_save_instance(self, instance: Member, row, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if not instance.pk:
            instance.referral_code = new_referral_code()
            instance.enrolled_at = timezone.now()
            instance.enrolment_channel = Member.Channel.IMPORT


def timed(resource_class, dataset) -> tuple[float, dict]:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        started = time.perf_counter()
        result = resource_class().import_data(dataset, dry_run=False)
        seconds = time.perf_counter() - started
        totals = dict(result.totals)
        if result.has_errors() or result.has_validation_errors():
            totals["failed"] = True
        transaction.set_rollback(True)
    return seconds, totals


def main() -> None:
    path, repeats = Path(sys.argv[1]), int(sys.argv[2])
    dataset = CSV().create_dataset(path.read_text(encoding="utf-8"))
    out: dict = {"rows": len(dataset)}
    for name, resource_class in (("default", DefaultMemberResource), ("ours", MemberResource)):
        runs = [timed(resource_class, dataset) for _ in range(repeats)]
        out[name] = {
            "seconds": statistics.median(seconds for seconds, _ in runs),
            "totals": runs[-1][1],
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
