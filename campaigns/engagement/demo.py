"""Demo badge rules and the engagement settings (idempotent); then the nightly job once, so the
demo members have streaks, stages and badges (no milestone message: none is set)."""

from typing import Any

from campaigns.engagement.models import BadgeRule
from campaigns.engagement.services import engagement_nightly, engagement_settings_get
from loyalty.tiers.models import Tier

RULES = [
    # code, name, kind, threshold, repeatable, description
    ("welcome", "Welcome aboard", "first_purchase", 1, False, "Your first purchase with us."),
    ("regular", "Regular", "purchases", 5, False, "Five visits: thank you!"),
    ("every-ten", "Ten more", "purchases", 10, True, "Every ten purchases."),
    ("streak-3", "Three months running", "streak", 3, False, "A purchase three months in a row."),
    ("reviewer", "Reviewer", "reviews", 1, False, "Wrote a product review."),
    ("ambassador", "Ambassador", "referrals", 1, False, "Brought a friend."),
    ("party", "Party goer", "event", 1, False, "Came to one of our events."),
]


def load(stdout: Any) -> None:
    engagement_settings_get()
    created = 0
    for code, name, kind, threshold, repeatable, description in RULES:
        _, was_created = BadgeRule.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "threshold": threshold,
                "repeatable": repeatable,
                "description": description,
            },
        )
        created += was_created
    gold = Tier.objects.filter(code="gold").first()
    if gold is not None:
        _, was_created = BadgeRule.objects.get_or_create(
            code="gold",
            defaults={"name": "Gold member", "kind": "tier_reached", "tier": gold},
        )
        created += was_created
    result = engagement_nightly()
    stdout.write(
        f"engagement: {created} badge rule(s) created; {result.badges_awarded} badge(s) awarded; "
        + ", ".join(f"{stage} {n}" for stage, n in sorted(result.stage_counts.items()))
    )
