"""Demo programme: settings, a few earning rules, and a purchase history for the demo members.

Idempotent: rules are matched by name, purchases by their external id (DEMO-<member>-<n>), and
everything goes through the real services (rules engine, lots, tiers' upgrade hook).
"""

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from loyalty.ledger.exceptions import InsufficientPoints
from loyalty.ledger.models import EarningRule, Transaction
from loyalty.ledger.policy import programme_settings_get
from loyalty.ledger.services import points_redeem, purchase_record, return_record
from members.models import Member

RULES = [
    {
        "name": "Double points in the web shop",
        "kind": "multiplier",
        "multiplier": Decimal("2"),
        "channels": ["web"],
    },
    {
        "name": "Weekend x1.5",
        "kind": "multiplier",
        "multiplier": Decimal("1.5"),
        "weekdays": [5, 6],
    },
    {
        "name": "Accessories x3",
        "kind": "multiplier",
        "multiplier": Decimal("3"),
        "categories": ["accessories"],
    },
    {"name": "At most 5,000 points a purchase", "kind": "cap_transaction", "points": 5000},
]


RULES_ZH = [
    {**RULES[0], "name": "网上商城双倍积分"},
    {**RULES[1], "name": "周末1.5倍积分"},
    {**RULES[2], "name": "配件三倍积分"},
    {**RULES[3], "name": "每笔消费最多5,000积分"},
]


def load(*, stdout: Any) -> None:
    from loyalty.core.demo_locale import chinese_demo

    programme = programme_settings_get()
    rules = RULES
    if chinese_demo():  # a programme in Shanghai: yuan, China time, +86 numbers
        programme.name = "会员积分计划"
        programme.currency = "CNY"
        programme.time_zone = "Asia/Shanghai"
        programme.phone_region = "CN"
        programme.full_clean()
        programme.save()
        rules = RULES_ZH
    for spec in rules:
        EarningRule.objects.get_or_create(name=spec["name"], defaults=spec)
    now = timezone.now()
    members = list(Member.objects.filter(external_ref__startswith="demo-").order_by("pk"))
    existing = set(
        Transaction.objects.filter(external_id__startswith="DEMO-").values_list(
            "external_id", flat=True
        )
    )
    created = 0
    for member in members:
        rng = random.Random(f"demo-{member.member_number}")  # same history on every run
        purchases = int(rng.paretovariate(1.3)) - 1  # a long tail: most buy little, a few a lot
        for n in range(min(purchases, 25)):
            external_id = f"DEMO-{member.pk}-{n}"
            when = max(member.enrolled_at, now - timedelta(days=400)) + timedelta(
                days=rng.randint(0, 390), minutes=rng.randint(0, 600)
            )
            when = min(when, now - timedelta(hours=1))
            amount = Decimal(str(round(rng.lognormvariate(3.3, 0.8), 2))).max(Decimal("1.00"))
            returned = rng.random() < 0.05
            if external_id in existing:
                continue
            channel = "web" if member.home_store and member.home_store.code == "WEB" else "store"
            result = purchase_record(
                member=member,
                channel=channel,
                external_id=external_id,
                occurred_at=when,
                amount=amount,
                store=member.home_store,
            )
            created += 1
            if returned:
                return_record(
                    channel=channel,
                    external_id=f"{external_id}-R",
                    occurred_at=min(when + timedelta(days=3), now - timedelta(minutes=30)),
                    amount=(amount / 2).quantize(Decimal("0.01")),
                    original=result.transaction,
                )
    spenders = members[::7]
    for member in spenders:
        try:
            points_redeem(
                member=member,
                points=50,
                source_type="demo",
                source_id="gift",
                idempotency_key="demo-redeem",
                reason="demo gift",
            )
        except InsufficientPoints:  # a demo member without 50 available points skips it
            continue
    stdout.write(
        f"ledger: {len(rules)} earning rules, {created} new demo purchases ({programme.currency})"
    )
