"""Game reads: the prize wheel with its odds; sweepstakes, their entries and draw record."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.games.models import (
    PrizeWheel,
    Sweepstake,
    SweepstakeEntry,
    SweepstakePrize,
    WheelPrize,
    WheelSpin,
)
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


def sweepstake_list_open() -> QuerySet[Sweepstake]:
    """Sweepstakes taking entries now (not drawn, draw date still ahead), soonest draw first."""
    return (
        Sweepstake.objects.filter(drawn_at__isnull=True, draw_at__gt=timezone.now())
        .prefetch_related("prizes__reward")
        .order_by("draw_at", "pk")
    )


def sweepstake_get(*, sweepstake_id: int) -> Sweepstake:
    """Any sweepstake, open or drawn. Raises NotFound."""
    sweepstake = None
    if 0 < sweepstake_id <= MAX_ID:
        sweepstake = (
            Sweepstake.objects.prefetch_related("prizes__reward").filter(pk=sweepstake_id).first()
        )
    if sweepstake is None:
        raise NotFound(_("No sweepstake with that id."), extra={"sweepstake_id": sweepstake_id})
    return sweepstake


def sweepstake_prizes(*, sweepstake: Sweepstake) -> list[SweepstakePrize]:
    return sorted(sweepstake.prizes.all(), key=lambda p: (p.rank, p.pk))


def sweepstake_member_entries(
    *, sweepstake: Sweepstake, member_id: int
) -> QuerySet[SweepstakeEntry]:
    return SweepstakeEntry.objects.filter(sweepstake=sweepstake, member_id=member_id).order_by("pk")


def sweepstake_entry_pairs(*, sweepstake: Sweepstake) -> list[tuple[int, int]]:
    """The stored entries as the draw reads them: (entry id, member id), by entry id."""
    return list(
        SweepstakeEntry.objects.filter(sweepstake=sweepstake)
        .order_by("pk")
        .values_list("pk", "member_id")
    )


def sweepstake_winners(*, sweepstake: Sweepstake) -> list[SweepstakeEntry]:
    """The winning entries as recorded at the draw, by place (1 first)."""
    return list(
        SweepstakeEntry.objects.filter(sweepstake=sweepstake, won=True)
        .select_related("member", "prize", "voucher")
        .order_by("place", "pk")
    )
