"""How upper apps change who may redeem a reward and what it costs a member, without rewards
importing them (registered from their AppConfig.ready(); e.g. campaigns.membership, the paid
club, gives its members a discount and keeps its members-only rewards to them).

Both kinds of hook take the member, the rewards in question and the moment, and answer for all
of them at once, so the catalogue asks each app once for the whole list (no query per reward).

- A price adjuster answers {reward_id: PriceAdjustment} for the rewards it discounts. When two
  apps discount the same reward the larger discount wins (discounts do not add up).
- An eligibility check answers {reward_id: reason} for the rewards the member may not redeem;
  the catalogue leaves those out and redeeming them is refused with the reason.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any


@dataclass(frozen=True)
class PriceAdjustment:
    source: str  # e.g. "club:plus"
    label: str  # e.g. "Plus club member price"
    percent_off: Decimal  # 0 < percent_off < 100


PriceAdjuster = Callable[[Any, list[Any], datetime], dict[int, PriceAdjustment]]
EligibilityCheck = Callable[[Any, list[Any], datetime], dict[int, str]]
PRICE_ADJUSTERS: list[PriceAdjuster] = []
ELIGIBILITY_CHECKS: list[EligibilityCheck] = []


def register_price_adjuster(adjuster: PriceAdjuster) -> None:
    if adjuster not in PRICE_ADJUSTERS:
        PRICE_ADJUSTERS.append(adjuster)


def register_eligibility_check(check: EligibilityCheck) -> None:
    if check not in ELIGIBILITY_CHECKS:
        ELIGIBILITY_CHECKS.append(check)


@dataclass(frozen=True)
class MemberPrice:
    points: int  # what the member pays for one
    list_points: int  # the catalogue price
    adjustment: PriceAdjustment | None


def discounted(points_cost: int, percent_off: Decimal) -> int:
    """The price after a percentage discount: the discount is rounded down to whole points (the
    member never gets more off than the percentage says), and a reward costs at least 1."""
    off = (Decimal(points_cost) * percent_off / 100).to_integral_value(rounding=ROUND_FLOOR)
    return max(points_cost - int(off), 1)


def member_prices(*, member: Any, rewards: Iterable[Any], now: datetime) -> dict[int, MemberPrice]:
    """What each reward costs this member now (every registered adjuster asked once)."""
    rewards = list(rewards)
    best: dict[int, PriceAdjustment] = {}
    for adjuster in PRICE_ADJUSTERS:
        for reward_id, adjustment in adjuster(member, rewards, now).items():
            if not Decimal(0) < adjustment.percent_off < Decimal(100):
                continue
            if reward_id not in best or adjustment.percent_off > best[reward_id].percent_off:
                best[reward_id] = adjustment
    prices = {}
    for reward in rewards:
        chosen = best.get(reward.pk)
        points = (
            discounted(reward.points_cost, chosen.percent_off) if chosen else reward.points_cost
        )
        prices[reward.pk] = MemberPrice(points, reward.points_cost, chosen)
    return prices


def member_refusals(*, member: Any, rewards: Iterable[Any], now: datetime) -> dict[int, str]:
    """Why the member may not redeem each refused reward (rewards not in the answer are fine)."""
    rewards = list(rewards)
    refused: dict[int, str] = {}
    for check in ELIGIBILITY_CHECKS:
        for reward_id, reason in check(member, rewards, now).items():
            refused.setdefault(reward_id, reason)
    return refused
