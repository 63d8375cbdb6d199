"""Prize wheel writes: grant free spins, spin (one transaction, idempotent by spin id)."""

import random
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.games.draw import draw_winners, seed_fingerprint
from campaigns.games.exceptions import (
    EntryLimitReached,
    NoSpinLeft,
    SpinConflict,
    SweepstakeAlreadyDrawn,
    SweepstakeClosed,
    SweepstakeNotDue,
    WheelNotActive,
    WheelSoldOut,
)
from campaigns.games.models import (
    PrizeWheel,
    Sweepstake,
    SweepstakeEntry,
    WheelPrize,
    WheelSpin,
    WheelSpinGrant,
)
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


@transaction.atomic
def sweepstake_create(
    *,
    name: str,
    draw_at: Any,
    prize_points: int,
    entry_cost: int = 0,
    max_entries_per_member: int = 1,
    winners: int = 1,
) -> Sweepstake:
    """A new sweepstake with its seed drawn and committed now (only its SHA-256 is shown)."""
    seed = secrets.token_hex(32)
    sweepstake = Sweepstake(
        name=name,
        draw_at=draw_at,
        prize_points=prize_points,
        entry_cost=entry_cost,
        max_entries_per_member=max_entries_per_member,
        winners=winners,
        seed=seed,
        seed_sha256=seed_fingerprint(seed),
    )
    sweepstake.full_clean()
    sweepstake.save()
    return sweepstake


@transaction.atomic
def sweepstake_enter(
    *, sweepstake: Sweepstake, member: Any, idempotency_key: str, paid: bool = True
) -> SweepstakeEntry:
    """One entry: bought with the entry cost in points (paid) or given by a campaign. Refused
    after the draw date or over the member's limit (checked under the sweepstake's row lock).
    The same key again returns the first entry."""
    existing = SweepstakeEntry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    locked = Sweepstake.objects.select_for_update().get(pk=sweepstake.pk)
    if locked.drawn_at is not None or timezone.now() >= locked.draw_at:
        raise SweepstakeClosed(extra={"sweepstake": locked.pk})
    held = SweepstakeEntry.objects.filter(sweepstake=locked, member_id=member.pk).count()
    if held >= locked.max_entries_per_member:
        raise EntryLimitReached(extra={"limit": locked.max_entries_per_member})
    cost = locked.entry_cost if paid else 0
    if cost:
        points_redeem(
            member=member,
            points=cost,
            source_type="sweepstake_entry",
            source_id=str(locked.pk),
            idempotency_key=f"sweepstake-entry:{idempotency_key}",
            reason=f"Entry to {locked.name}",
        )
    return SweepstakeEntry.objects.create(
        sweepstake=locked, member=member, points_spent=cost, idempotency_key=idempotency_key
    )


@transaction.atomic(durable=True)
def sweepstake_draw(*, sweepstake: Sweepstake) -> list[SweepstakeEntry]:
    """Reveal the seed, pick the winners (draw.draw_winners) and credit their points. Runs
    once; refused before the draw date. Returns the winning entries."""
    locked = Sweepstake.objects.select_for_update().get(pk=sweepstake.pk)
    if locked.drawn_at is not None:
        raise SweepstakeAlreadyDrawn(extra={"sweepstake": locked.pk})
    if timezone.now() < locked.draw_at:
        raise SweepstakeNotDue(extra={"draw_at": locked.draw_at.isoformat()})
    entries = list(
        SweepstakeEntry.objects.filter(sweepstake=locked)
        .order_by("pk")
        .values_list("pk", "member_id")
    )
    winning = draw_winners(seed=locked.seed, entries=entries, winners=locked.winners)
    SweepstakeEntry.objects.filter(pk__in=winning).update(won=True)
    Sweepstake.objects.filter(pk=locked.pk).update(drawn_at=timezone.now())
    by_pk = {
        e.pk: e for e in SweepstakeEntry.objects.filter(pk__in=winning).select_related("member")
    }
    won = [by_pk[pk] for pk in winning]  # in draw order
    for entry in won:
        points_earn(
            member=entry.member,
            points=locked.prize_points,
            idempotency_key=f"sweepstake-prize:{entry.pk}",
            source_type="sweepstake_prize",
            source_id=str(locked.pk),
            reason=f"Winner of {locked.name}",
        )
    return won
