"""Demo stores and members (deterministic, idempotent)."""

import random
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from members.models import Member, Store
from members.services import member_enroll

STORES = [
    ("LDN01", "London Covent Garden", "London"),
    ("LDN02", "London Canary Wharf", "London"),
    ("MAN01", "Manchester Arndale", "North West"),
    ("EDI01", "Edinburgh Princes Street", "Scotland"),
    ("WEB", "Web shop", "Online"),
]
FIRST = [
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Ivy",
    "Lily",
    "Isabella",
    "Rosie",
    "Sophia",
    "Grace",
    "Freya",
    "Noah",
    "Oliver",
    "George",
    "Arthur",
    "Leo",
    "Muhammad",
    "Harry",
    "Oscar",
    "Archie",
    "Henry",
    "Theodore",
    "Jack",
    "Charlie",
    "Thomas",
    "Aisha",
    "Priya",
    "Chloe",
    "Jacob",
    "Emily",
    "Daniel",
    "Hannah",
    "Samuel",
    "Zara",
    "Joshua",
    "Sofia",
    "Ethan",
    "Maya",
    "Lucas",
]
LAST = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Wright",
    "Robinson",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Thomas",
    "Clarke",
    "Jackson",
    "Wood",
    "Harris",
    "Edwards",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Hughes",
    "Moore",
    "Clark",
    "King",
    "Harrison",
    "Lewis",
    "Baker",
    "Lee",
    "Allen",
    "Morris",
    "Khan",
    "Scott",
    "Watson",
    "Davis",
    "Parker",
    "James",
    "Bennett",
    "Young",
    "Phillips",
    "Richardson",
    "Mitchell",
    "O'Brien",
]
COUNT = 300


@transaction.atomic
def load(*, stdout: Any) -> None:
    stores = []
    for code, name, region in STORES:
        store, _ = Store.objects.get_or_create(code=code, defaults={"name": name, "region": region})
        stores.append(store)
    existing = set(
        Member.objects.filter(external_ref__startswith="demo-").values_list(
            "external_ref", flat=True
        )
    )
    rng = random.Random(20261123)
    created = 0
    for index in range(COUNT):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        has_email, has_phone = rng.random() < 0.85, rng.random() < 0.6
        enrolled = timezone.now() - timedelta(
            days=rng.randint(0, 900), minutes=rng.randint(0, 1440)
        )
        birth = date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55))
        store = rng.choice(stores)
        ref = f"demo-{index}"
        if ref in existing:
            continue
        member_enroll(
            first_name=first,
            last_name=last,
            email=f"{first}.{last}{index}@example.com".lower().replace("'", "")
            if has_email
            else None,
            phone=f"+4479111{index:05d}" if has_phone else None,
            birth_date=birth,
            city=store.region if store.code != "WEB" else "Bristol",
            country="GB",
            home_store=store,
            channel=Member.Channel.WEB if store.code == "WEB" else Member.Channel.STORE,
            consents={
                "email": has_email and rng.random() < 0.7,
                "sms": has_phone and rng.random() < 0.4,
            },
            enrolled_at=enrolled,
            external_ref=ref,
        )
        created += 1
    stdout.write(f"members: {len(stores)} stores, {created} new demo members ({COUNT} in all)")
