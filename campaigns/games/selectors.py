"""Prize wheel reads: the wheel with its odds."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from campaigns.games.models import PrizeWheel, WheelPrize, WheelSpin
from loyalty.core.exceptions import NotFound

MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class PrizeOdds:
    prize: WheelPrize
    left: int | None
    chance_percent: Decimal


def wheel_get(*, wheel_id: int) -> PrizeWheel:
    """An open wheel (a closed one is not shown to members). Raises NotFound."""
    wheel = None
    if 0 < wheel_id <= MAX_ID:
        wheel = PrizeWheel.objects.filter(pk=wheel_id, is_active=True).first()
    if wheel is None:
        raise NotFound(_("No open prize wheel with that id."), extra={"wheel_id": wheel_id})
    return wheel


def wheel_list() -> QuerySet[PrizeWheel]:
    return PrizeWheel.objects.filter(is_active=True).order_by("name")


def wheel_odds(*, wheel: PrizeWheel) -> list[PrizeOdds]:
    """Each prize's chance on the next spin: its weight over the weights of the prizes still in
    stock (a prize out of stock has 0 %). Percentages rounded to 2 decimals."""
    prizes = list(WheelPrize.objects.filter(wheel=wheel).order_by("pk"))
    live = [p for p in prizes if p.left is None or p.left > 0]
    total = sum(p.weight for p in live)
    odds = []
    for prize in prizes:
        share = Decimal(prize.weight * 100) / total if prize in live and total else Decimal(0)
        odds.append(
            PrizeOdds(
                prize=prize,
                left=prize.left,
                chance_percent=share.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
            )
        )
    return odds


def spin_list(*, wheel: PrizeWheel) -> QuerySet[WheelSpin]:
    return WheelSpin.objects.filter(wheel=wheel).select_related("member", "prize")
