"""Demo tier ladder and policy (idempotent): Member / Silver / Gold / Platinum on qualifying
points in the calendar year, 30 days of grace, one tier down per period. Then every demo member
gets the tier the rules give them (no entry gifts)."""

from decimal import Decimal
from typing import Any

from loyalty.tiers.models import Tier, TierPolicy
from loyalty.tiers.services import tier_recalculate

LADDER = [
    # code, name, rank, threshold, multiplier, gift, free shipping, birthday, exclusive
    ("member", "Member", 0, "0", "1.00", 0, False, False, False),
    ("silver", "Silver", 1, "250", "1.25", 50, False, True, False),
    ("gold", "Gold", 2, "1000", "1.50", 200, True, True, False),
    ("platinum", "Platinum", 3, "2500", "2.00", 500, True, True, True),
]


def load(stdout: Any) -> None:
    TierPolicy.objects.get_or_create(
        pk=1, defaults={"basis": "points", "window": "calendar_year", "grace_days": 30}
    )
    created = 0
    for code, name, rank, threshold, mult, gift, shipping, birthday, exclusive in LADDER:
        _, was_created = Tier.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "rank": rank,
                "threshold": Decimal(threshold),
                "earn_multiplier": Decimal(mult),
                "entry_gift_points": gift,
                "free_shipping": shipping,
                "birthday_gift": birthday,
                "exclusive_rewards": exclusive,
            },
        )
        created += was_created
    result = tier_recalculate(dry_run=False)
    stdout.write(
        f"tiers: {created} tier(s) created; {result.moved} member(s) graded; "
        + ", ".join(f"{code} {count}" for code, count in result.after.items())
    )
