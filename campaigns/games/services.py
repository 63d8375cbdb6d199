"""Game writes. Prize wheel: grant free spins, spin (one transaction, idempotent by spin id).
Sweepstakes: create (seed committed), enter (points or free), draw (prizes, messages)."""

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
    EntryConflict,
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
    SweepstakePrize,
    WheelPrize,
    WheelSpin,
    WheelSpinGrant,
)
from loyalty.ledger.models import LedgerEntry, NotificationOutbox
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
    prize_points: int = 0,
    entry_cost: int = 0,
    max_entries_per_member: int = 1,
    winners: int = 1,
    message_template: Any = None,
) -> Sweepstake:
    """A new sweepstake with its seed drawn and committed now (only its SHA-256 is shown).
    Its prize list (SweepstakePrize rows) is added afterwards (sweepstake_prize_add, admin)."""
    seed = secrets.token_hex(32)
    sweepstake = Sweepstake(
        name=name,
        draw_at=draw_at,
        prize_points=prize_points,
        entry_cost=entry_cost,
        max_entries_per_member=max_entries_per_member,
        winners=winners,
        message_template=message_template,
        seed=seed,
        seed_sha256=seed_fingerprint(seed),
    )
    sweepstake.full_clean()
    sweepstake.save()
    return sweepstake


@transaction.atomic
def sweepstake_prize_add(
    *,
    sweepstake: Sweepstake,
    rank: int,
    label: str,
    points: int = 0,
    reward: Any = None,
    quantity: int = 1,
) -> SweepstakePrize:
    """A line of the prize list: a reward voucher when `reward` is given, else points. Refused
    once drawn. Raises ValidationError (also when the prizes outnumber the winners)."""
    locked = Sweepstake.objects.select_for_update().get(pk=sweepstake.pk)
    if locked.drawn_at is not None:
        raise SweepstakeAlreadyDrawn(extra={"sweepstake": locked.pk})
    prize = SweepstakePrize(
        sweepstake=locked,
        rank=rank,
        label=label,
        kind=SweepstakePrize.Kind.REWARD if reward is not None else SweepstakePrize.Kind.POINTS,
        points=0 if reward is not None else points,
        reward=reward,
        quantity=quantity,
    )
    prize.full_clean()
    given = sum(p.quantity for p in SweepstakePrize.objects.filter(sweepstake=locked))
    if given + quantity > locked.winners:
        raise ValidationError({"quantity": [prizes_over_winners_message(locked.winners)]})
    prize.save()
    return prize


def prizes_over_winners_message(winners: int) -> str:
    return str(
        _("The prizes are for more winners than the sweepstake draws (%(n)s).") % {"n": winners}
    )


def prize_places(*, prizes: list[SweepstakePrize], winners: int) -> list[SweepstakePrize | None]:
    """The prize of each place 1..winners (docs/sweepstakes.md): the prize list in rank order,
    each line repeated `quantity` times; places after the list get None (the sweepstake's
    points per winner)."""
    places: list[SweepstakePrize | None] = []
    for prize in sorted(prizes, key=lambda p: (p.rank, p.pk)):
        places.extend([prize] * prize.quantity)
    places = places[:winners]
    return places + [None] * (winners - len(places))


@transaction.atomic
def sweepstake_enter(
    *, sweepstake: Sweepstake, member: Any, idempotency_key: str, paid: bool = True
) -> SweepstakeEntry:
    """One entry: bought with the entry cost in points (paid) or given by a campaign. Refused
    after the draw date or over the member's limit (checked under the sweepstake's row lock).
    The same key again returns the first entry (EntryConflict if it was another member's or
    another sweepstake's)."""
    existing = SweepstakeEntry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if (existing.sweepstake_id, existing.member_id) != (sweepstake.pk, member.pk):
            raise EntryConflict(extra={"entry_key": idempotency_key})
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


@transaction.atomic
def sweepstake_entries_add(
    *, sweepstake: Sweepstake, member: Any, entries: int, idempotency_key: str, paid: bool = True
) -> tuple[list[SweepstakeEntry], bool]:
    """`entries` entries at once, all or none (the API's and the campaigns' entry point):
    bought with points (paid) or given free (paid=False, e.g. a campaign's prize). Entry i
    gets the key "<idempotency_key>:<i>"; the same key and count again return the first
    entries and take nothing more. Returns (entries, created)."""
    if entries < 1:
        raise ValidationError({"entries": [_("At least one entry.")]})
    keys = [f"{idempotency_key}:{n}" for n in range(1, entries + 1)]
    first = list(SweepstakeEntry.objects.filter(idempotency_key__in=keys).order_by("pk"))
    if first:
        if len(first) != entries or any(
            (e.sweepstake_id, e.member_id) != (sweepstake.pk, member.pk) for e in first
        ):
            raise EntryConflict(extra={"entry_key": idempotency_key})
        return first, False
    made = [
        sweepstake_enter(sweepstake=sweepstake, member=member, idempotency_key=key, paid=paid)
        for key in keys
    ]
    return made, True


def _prize_give(
    sweepstake: Sweepstake, entry: SweepstakeEntry, place: int, prize: SweepstakePrize | None
) -> None:
    """The prize of one winning entry (in the draw's transaction, idempotent by entry)."""
    from rewards.services import voucher_gift

    entry.won, entry.place, entry.prize = True, place, prize
    label = prize.label if prize is not None else ""
    payload: dict[str, Any] = {
        "sweepstake": sweepstake.name,
        "sweepstake_id": sweepstake.pk,
        "place": place,
        "channel": "email",
    }
    if prize is not None and prize.kind == SweepstakePrize.Kind.REWARD and prize.reward:
        voucher, _created = voucher_gift(
            member=entry.member,
            reward=prize.reward,
            gift_key=f"sweepstake:{sweepstake.pk}:entry:{entry.pk}",
            note=f"{sweepstake.name}: {label}",
        )
        entry.voucher = voucher
        payload.update(
            voucher=voucher.display_code,
            reward=prize.reward.name,
            expires_on=voucher.expires_at.isoformat() if voucher.expires_at else "",
        )
    else:
        entry.points_won = prize.points if prize is not None else sweepstake.prize_points
        if entry.points_won:
            points_earn(
                member=entry.member,
                points=entry.points_won,
                idempotency_key=f"sweepstake-prize:{entry.pk}",
                source_type="sweepstake_prize",
                source_id=str(sweepstake.pk),
                reason=f"Winner of {sweepstake.name}",
            )
        payload["points"] = entry.points_won
    payload["prize"] = label or (f"{entry.points_won} points" if entry.points_won else "")
    entry.save(update_fields=["won", "place", "prize", "points_won", "voucher", "updated_at"])
    if sweepstake.message_template_id:
        payload["template_id"] = sweepstake.message_template_id
    NotificationOutbox.objects.get_or_create(
        dedupe_key=f"sweepstake-won:{entry.pk}",
        defaults={"member": entry.member, "kind": "sweepstake_won", "payload": payload},
    )


@transaction.atomic(durable=True)
def sweepstake_draw(*, sweepstake: Sweepstake) -> list[SweepstakeEntry]:
    """Reveal the seed, pick the winners (draw.draw_winners), give each the prize of their
    place (points through the ledger, a reward through rewards.services.voucher_gift) and
    queue a "sweepstake_won" message to each. All or nothing, once: refused before the draw
    date and when already drawn (SweepstakeAlreadyDrawn, nothing given again); a prize that
    cannot be given (reward out of stock or withdrawn) refuses the whole draw, the seed stays
    secret and the draw can run again once fixed (same entries, same seed: same winners).
    Returns the winning entries in draw order."""
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
    Sweepstake.objects.filter(pk=locked.pk).update(drawn_at=timezone.now())
    by_pk = {
        e.pk: e for e in SweepstakeEntry.objects.filter(pk__in=winning).select_related("member")
    }
    won = [by_pk[pk] for pk in winning]  # in draw order
    places = prize_places(
        prizes=list(SweepstakePrize.objects.filter(sweepstake=locked).select_related("reward")),
        winners=locked.winners,
    )
    for place, entry in enumerate(won, start=1):
        _prize_give(locked, entry, place, places[place - 1])
    return won
