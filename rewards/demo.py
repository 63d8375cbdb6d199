"""Demo catalogue (idempotent): a few rewards of each kind, a partner pool, and some redemptions
by demo members who have the points, so the admin, the clerk screen and the API show real data."""

from datetime import time
from decimal import Decimal
from typing import Any

from loyalty.core.exceptions import ApplicationError
from loyalty.ledger.models import PointsAccount
from loyalty.tiers.models import Tier
from members.models import Member
from rewards.models import Cause, Donation, Redemption, Reward, RewardCode, RewardsSettings
from rewards.services import redemption_create, reward_codes_upload

CATALOGUE: list[tuple[str, str, str, int, dict[str, Any]]] = [
    # code, name, kind, cost, extra fields
    (
        "coffee",
        "Free coffee",
        "free_product",
        150,
        {"product_sku": "COFFEE-REG", "visibility": "featured"},
    ),
    ("five-off", "£5 off your next shop", "amount_off", 500, {"amount_off": Decimal("5.00")}),
    (
        "ten-percent",
        "10% off (up to £20)",
        "percent_off",
        800,
        {"percent_off": Decimal("10"), "max_discount": Decimal("20.00")},
    ),
    (
        "tote",
        "Canvas tote bag",
        "gift",
        1200,
        {"stock": 25, "low_stock_threshold": 5, "limit_per_member": 1},
    ),
    (
        "cinema",
        "Cinema ticket (partner)",
        "partner_code",
        2000,
        {"limit_per_period": 2, "limit_period": "month"},
    ),
    (
        "chef-table",
        "Chef's table evening",
        "experience",
        5000,
        {"stock": 4, "visibility": "tier", "min_tier": "gold"},
    ),
    (
        "lunch-flash",
        "Lunchtime flash: free cookie (12:00-14:00)",
        "free_product",
        50,
        {"product_sku": "COOKIE", "daily_from": time(12, 0), "daily_until": time(14, 0)},
    ),
    ("give-100", "Give 100 points to a cause", "donation", 100, {}),
]
CAUSES = [
    # code, name, kind, brand matching
    ("trees-for-cities", "Trees for Cities", "trees", 1),
    ("food-bank", "Local food bank", "charity", 0),
    ("cup-recycling", "Coffee cup recycling", "recycling", 2),
]


# DEMO_LOCALE=zh-hans: the same catalogue in Chinese, priced in yuan
CATALOGUE_ZH: list[tuple[str, str, str, int, dict[str, Any]]] = [
    ("coffee", "免费咖啡一杯", "free_product", 150, CATALOGUE[0][4]),
    ("five-off", "下次购物立减¥50", "amount_off", 500, {"amount_off": Decimal("50.00")}),
    (
        "ten-percent",
        "九折优惠(最高减¥200)",
        "percent_off",
        800,
        {"percent_off": Decimal("10"), "max_discount": Decimal("200.00")},
    ),
    ("tote", "帆布环保袋", "gift", 1200, CATALOGUE[3][4]),
    ("cinema", "电影票(合作伙伴)", "partner_code", 2000, CATALOGUE[4][4]),
    ("chef-table", "主厨餐桌之夜", "experience", 5000, CATALOGUE[5][4]),
    ("lunch-flash", "午间限时:免费曲奇(12:00-14:00)", "free_product", 50, CATALOGUE[6][4]),
    ("give-100", "捐赠100积分给公益项目", "donation", 100, {}),
]


def load(stdout: Any) -> None:
    from loyalty.core.demo_locale import chinese_demo

    catalogue = CATALOGUE_ZH if chinese_demo() else CATALOGUE
    RewardsSettings.objects.get_or_create(
        pk=1, defaults={"points_payment_minimum": 100, "points_payment_step": 50}
    )
    created = 0
    for code, name, kind, cost, extra in catalogue:
        extra = dict(extra)
        if "min_tier" in extra:
            extra["min_tier"] = Tier.objects.filter(code=extra["min_tier"]).first()
            if extra["min_tier"] is None:
                extra.pop("min_tier")
                extra["visibility"] = "public"
        _, was_created = Reward.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "points_cost": cost,
                "description": name,
                **extra,
            },
        )
        created += was_created
    cinema = Reward.objects.get(code="cinema")
    if not RewardCode.objects.filter(reward=cinema).exists():
        reward_codes_upload(
            reward=cinema, codes=[f"CINE-DEMO-{n:04d}" for n in range(1, 41)], batch="demo"
        )
    redeemed = 0
    already = Redemption.objects.filter(idempotency_key__startswith="demo:").exists()
    rich = (
        PointsAccount.objects.filter(member__status=Member.Status.ACTIVE, balance__gte=200)
        .select_related("member")
        .order_by("-balance")[: 0 if already else 10]
    )
    for account, reward_code in zip(
        rich, ["coffee", "five-off", "coffee", "tote"] * 3, strict=False
    ):
        try:
            redemption_create(
                member=account.member,
                reward=Reward.objects.get(code=reward_code),
                channel="store",
                idempotency_key=f"demo:{reward_code}",
            )
            redeemed += 1
        except ApplicationError:
            continue  # pending points, a limit: fine for a demo
    for order, (code, name, kind, matching) in enumerate(CAUSES):
        Cause.objects.get_or_create(
            code=code,
            defaults={"name": name, "kind": kind, "matching": matching, "sort_order": order},
        )
    donated = 0
    if not Donation.objects.exists():
        causes = list(Cause.objects.filter(active=True).order_by("sort_order"))
        give = Reward.objects.get(code="give-100")
        for account, cause in zip(rich[:6], causes * 2, strict=False):
            try:
                redemption_create(member=account.member, reward=give, channel="app", cause=cause)
                donated += 1
            except ApplicationError:
                continue
    stdout.write(
        f"rewards: {created} new rewards, {redeemed} demo redemptions, {donated} donations"
    )
