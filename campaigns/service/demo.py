"""Demo customer service: a few purchases with receipt lines (so the clerk screen has products to
suggest), the bought-together table built from them, and some feedback, one complaint resolved
with goodwill points by the demo Customer service user.

Idempotent: purchases by external id (DEMO-SVC-<member>-<n>), feedback by its text per member,
goodwill by its ledger key; everything through the real services.
"""

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from campaigns.service.models import Feedback
from campaigns.service.services import (
    bought_together_rebuild,
    feedback_create,
    feedback_resolve,
    feedback_status_set,
)
from loyalty.ledger.models import Transaction
from loyalty.ledger.services import LineInput, purchase_record
from members.models import Member

PRODUCTS = {  # sku: (category, unit price)
    "COF-250": ("coffee", "6.50"),
    "COF-1K": ("coffee", "22.00"),
    "FIL-100": ("coffee", "3.20"),
    "MUG-RED": ("homeware", "9.00"),
    "MUG-BLU": ("homeware", "9.00"),
    "GRD-HAND": ("homeware", "34.00"),
    "TEA-EARL": ("tea", "4.80"),
    "TEA-MINT": ("tea", "4.50"),
    "CHO-DARK": ("sweets", "2.90"),
    "BIS-ALM": ("sweets", "3.40"),
}
# baskets people buy: the demo draws from them, so some products go together
BASKETS = [
    ["COF-250", "FIL-100"],
    ["COF-250", "FIL-100", "MUG-RED"],
    ["COF-1K", "GRD-HAND", "FIL-100"],
    ["TEA-EARL", "BIS-ALM"],
    ["TEA-MINT", "TEA-EARL", "CHO-DARK"],
    ["MUG-BLU", "TEA-EARL"],
    ["COF-250", "CHO-DARK"],
]
FEEDBACK = [
    ("complaint", "store", "phone", "The till refused my voucher and nobody could explain why.", 3),
    ("complaint", "product", "email", "The grinder handle broke after a week.", 5),
    ("compliment", "service", "store", "Lovely staff at Covent Garden, very patient.", 10),
    ("suggestion", "programme", "app", "Could points be shared with my partner's card?", 8),
]


def _purchases(members: list[Member]) -> int:
    now = timezone.now()
    existing = set(
        Transaction.objects.filter(external_id__startswith="DEMO-SVC-").values_list(
            "external_id", flat=True
        )
    )
    created = 0
    for member in members:
        rng = random.Random(f"demo-svc-{member.member_number}")
        for n in range(rng.randint(1, 4)):
            external_id = f"DEMO-SVC-{member.pk}-{n}"
            if external_id in existing:
                continue
            skus = rng.choice(BASKETS)
            lines = [
                LineInput(
                    sku=sku,
                    quantity=Decimal("1"),
                    unit_price=Decimal(PRODUCTS[sku][1]),
                    category=PRODUCTS[sku][0],
                )
                for sku in skus
            ]
            purchase_record(
                member=member,
                channel="store",
                external_id=external_id,
                occurred_at=now - timedelta(days=rng.randint(2, 200), minutes=rng.randint(0, 600)),
                amount=sum((line.total() for line in lines), Decimal("0")),
                store=member.home_store,
                lines=lines,
            )
            created += 1
    return created


def _feedback(members: list[Member]) -> int:
    agent = get_user_model().objects.filter(username="service").first()
    created = 0
    for member, (kind, category, channel, text, score) in zip(members, FEEDBACK, strict=False):
        if Feedback.objects.filter(member=member, text=text).exists():
            continue
        feedback = feedback_create(
            member=member,
            kind=kind,
            category=category,
            channel=channel,
            text=text,
            score=score,
            received_at=timezone.now() - timedelta(days=2 + created),
            actor=agent,
        )
        created += 1
        if text.startswith("The till") and agent is not None:
            feedback_resolve(
                feedback=feedback,
                resolution="Apologised by phone; the voucher was honoured.",
                actor=agent,
                goodwill_points=200,
            )
        elif text.startswith("The grinder") and agent is not None:
            feedback_status_set(feedback=feedback, status="in_progress", actor=agent)
    return created


def load(*, stdout: Any) -> None:
    members = list(
        Member.objects.filter(external_ref__startswith="demo-", status="active").order_by("pk")[:60]
    )
    purchases = _purchases(members)
    rows = bought_together_rebuild()
    feedback = _feedback(members[::15])
    stdout.write(
        f"service: {purchases} new demo purchases with lines, {rows} bought-together rows, "
        f"{feedback} new feedback"
    )
