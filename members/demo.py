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

# DEMO_LOCALE=zh-hans (loyalty/core/demo_locale.py): a programme in Shanghai
STORES_ZH = [
    ("SH01", "上海南京西路店", "上海"),
    ("SH02", "上海陆家嘴店", "上海"),
    ("BJ01", "北京三里屯店", "北京"),
    ("GZ01", "广州天河店", "广东"),
    ("WEB", "网上商城", "线上"),
]
FAMILY_ZH = [
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "黄",
    "赵",
    "吴",
    "周",
    "徐",
    "孙",
    "马",
    "朱",
    "胡",
    "郭",
    "何",
    "林",
    "高",
    "罗",
    "欧阳",
    "司马",
]
GIVEN_ZH = [
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
    "平",
    "刚",
    "小明",
    "嘉怡",
    "子涵",
    "浩然",
    "梓萱",
    "宇轩",
    "欣怡",
    "俊杰",
]
CITIES_ZH = {"上海": "上海", "北京": "北京", "广东": "广州", "线上": "杭州"}


@transaction.atomic
def load(*, stdout: Any) -> None:
    from loyalty.core.demo_locale import chinese_demo

    if chinese_demo():
        load_chinese(stdout=stdout)
        return
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


def load_chinese(*, stdout: Any) -> None:
    """The Chinese demo: stores in Shanghai, Beijing and Guangzhou, members with Chinese names
    (family name first, their pinyin searchable) and +86 mobile numbers; idempotent."""
    stores = []
    for code, name, region in STORES_ZH:
        store, _ = Store.objects.get_or_create(code=code, defaults={"name": name, "region": region})
        stores.append(store)
    existing = set(
        Member.objects.filter(external_ref__startswith="demo-zh-").values_list(
            "external_ref", flat=True
        )
    )
    rng = random.Random(20261203)
    created = 0
    for index in range(COUNT):
        family, given = rng.choice(FAMILY_ZH), rng.choice(GIVEN_ZH)
        has_email, has_phone = rng.random() < 0.5, rng.random() < 0.95
        enrolled = timezone.now() - timedelta(
            days=rng.randint(0, 900), minutes=rng.randint(0, 1440)
        )
        birth = date(1960, 1, 1) + timedelta(days=rng.randint(0, 365 * 45))
        store = rng.choice(stores)
        ref = f"demo-zh-{index}"
        if ref in existing:
            continue
        member_enroll(
            first_name=given,
            last_name=family,
            email=f"member{index}@example.cn" if has_email else None,
            phone=f"+86138{index:08d}" if has_phone else None,  # China Mobile 138 numbers
            birth_date=birth,
            city=CITIES_ZH.get(store.region, "上海"),
            country="CN",
            home_store=store,
            channel=Member.Channel.WEB if store.code == "WEB" else Member.Channel.STORE,
            consents={
                "email": has_email and rng.random() < 0.6,
                "sms": has_phone and rng.random() < 0.5,
            },
            enrolled_at=enrolled,
            external_ref=ref,
        )
        created += 1
    stdout.write(
        f"members: {len(stores)} 门店, {created} new demo members ({COUNT} in all, zh-hans)"
    )
