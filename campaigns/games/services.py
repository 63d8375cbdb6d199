"""Prize wheel writes: grant free spins, spin (one transaction, idempotent by spin id)."""

import random
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from campaigns.games.exceptions import NoSpinLeft, SpinConflict, WheelNotActive, WheelSoldOut
from campaigns.games.models import PrizeWheel, WheelPrize, WheelSpin, WheelSpinGrant
from loyalty.ledger.models import LedgerEntry
from loyalty.ledger.services import points_earn, points_redeem

_system_random = secrets.SystemRandom()


@transaction.atomic
def wheel_spins_grant(
    *, wheel: PrizeWheel, member: Any, spins: int, reason: str, idempotency_key: str
) -> WheelSpinGrant:
    """Give a member free spins (a campaign's prize, a goodwill gesture). The same key again
    returns the first grant and gives nothing more. Raises ValidationError."""
    existing = WheelSpinGrant.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if (existing.wheel_id, existing.member_id) != (wheel.pk, member.pk):
            raise SpinConflict(
                _("This grant key was already used for another member or wheel."),
                extra={"idempotency_key": idempotency_key},
            )
        return existing
    grant = WheelSpinGrant(
        wheel=wheel, member=member, spins=spins, reason=reason, idempotency_key=idempotency_key
    )
    grant.full_clean()
    grant.save()
    return grant


def _pick(prizes: list[WheelPrize], rng: random.Random) -> WheelPrize:
    """Weighted choice over the prizes in stock, in pk order (documented in docs/prize-wheel.md)."""
    total = sum(prize.weight for prize in prizes)
    ticket = rng.randrange(total)
    for prize in prizes:
        if ticket < prize.weight:
            return prize
        ticket -= prize.weight
    raise AssertionError("unreachable: ticket < total")


def _replay(spin: WheelSpin, *, wheel: PrizeWheel, member: Any) -> WheelSpin:
    if (spin.wheel_id, spin.member_id) != (wheel.pk, member.pk):
        raise SpinConflict(extra={"spin_id": spin.spin_id})
    return spin


@transaction.atomic(durable=True)
def wheel_spin(
    *, wheel: PrizeWheel, member: Any, spin_id: str, rng: random.Random | None = None
) -> WheelSpin:
    """Spin the wheel once for the member, all or nothing: a free spin is used if the member
    has one, otherwise the wheel's points are spent (ledger); a prize in stock is drawn by
    weight, its stock taken and its points credited (ledger).

    All the wheel's prizes are locked (pk order) first, so racing spins queue and the stock is
    never exceeded; the spin id is checked again under that lock, so the same id twice gives
    one spin. Raises WheelNotActive, WheelSoldOut, NoSpinLeft, InsufficientPoints (ledger),
    SpinConflict (the id belongs to another member or wheel), ValidationError (empty id)."""
    spin_id = (spin_id or "").strip()
    if not spin_id:
        raise ValidationError({"spin_id": [_("Give a spin id.")]})
    first = WheelSpin.objects.filter(spin_id=spin_id).first()
    if first is not None:
        return _replay(first, wheel=wheel, member=member)
    prizes = list(
        WheelPrize.objects.filter(wheel=wheel).order_by("pk").select_for_update(of=("self",))
    )
    # under the lock: a racing request with the same spin id has committed by now
    first = WheelSpin.objects.filter(spin_id=spin_id).first()
    if first is not None:
        return _replay(first, wheel=wheel, member=member)
    wheel = PrizeWheel.objects.get(pk=wheel.pk)
    if not wheel.is_active:
        raise WheelNotActive(extra={"wheel": wheel.pk})
    in_stock = [prize for prize in prizes if prize.left is None or prize.left > 0]
    if not in_stock:
        raise WheelSoldOut(extra={"wheel": wheel.pk})

    grant = (
        WheelSpinGrant.objects.select_for_update()
        .filter(wheel=wheel, member_id=member.pk, used__lt=F("spins"))
        .order_by("pk")
        .first()
    )
    points_spent = 0
    if grant is not None:
        WheelSpinGrant.objects.filter(pk=grant.pk).update(used=F("used") + 1)
    elif wheel.spin_cost:
        points_spent = wheel.spin_cost
        points_redeem(
            member=member,
            points=points_spent,
            source_type="wheel_spin",
            source_id=spin_id,
            idempotency_key=f"wheel-spin:{spin_id}",
            reason=f"Spin of {wheel.name}",
        )
    else:
        raise NoSpinLeft(extra={"wheel": wheel.pk})

    prize = _pick(in_stock, rng or _system_random)
    WheelPrize.objects.filter(pk=prize.pk).update(awarded=F("awarded") + 1)
    points_won = prize.points if prize.kind == WheelPrize.Kind.POINTS else 0
    spin = WheelSpin(
        spin_id=spin_id,
        wheel=wheel,
        member=member,
        prize=prize,
        points_spent=points_spent,
        grant=grant,
        points_won=points_won,
    )
    spin.full_clean()
    spin.save()
    if points_won:
        points_earn(
            member=member,
            points=points_won,
            idempotency_key=f"wheel-prize:{spin_id}",
            kind=LedgerEntry.Kind.BONUS,
            source_type="wheel_prize",
            source_id=spin_id,
            reason=f"{wheel.name}: {prize.label}",
        )
    return spin
