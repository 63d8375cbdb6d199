"""Campaign mechanics: the settings each one needs, and what a purchase is worth under it.

Rules written once here:
- Stacking: of the campaigns whose mechanic applies to a purchase, if any is exclusive, only the
  exclusive one with the lowest priority number (then lowest id) is applied; otherwise all
  applying campaigns are applied, in priority order.
- Multiplier: the extra is floor(earn points x share x (multiplier - 1)), where earn points are
  what the earning engine credited for the purchase (base rate, rules, tier) and share is the
  part of the eligible lines in the chosen categories / skus (1 without a filter).
- Double-points days: a multiplier or fixed bonus with weekdays and/or dates (month-day, every
  year) applies only to purchases made on one of them, the day taken in the programme time
  zone (a purchase at 23:30 UTC on Monday is a Tuesday purchase in Tokyo).
- Budget: an award is cut to what is left of the budget; once nothing is left, nothing is given
  (services.campaign_award, under a row lock of the campaign).
- Caps: at most `cap_count` awards per member (per referrer for referrals) per cap period.
- Win-back: once per member and campaign, on the first purchase in the campaign by a member who
  had purchased before but not in the `lapsed_days` before the campaign started: bonus points,
  or a voucher for the campaign's reward (services.campaign_award: no points charged, the
  reward's stock taken, its points cost counted against the budget and never cut).
- Birthday: once a year on the member's birthday (29 February: 28 February in other years), by
  the daily job; needs no purchase; bonus points or a reward voucher, like win-back.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q

from campaigns.models import Campaign
from campaigns.validation import settings_errors  # noqa: F401 - re-exported
from loyalty.ledger.models import LedgerEntry, Transaction
from loyalty.ledger.policy import programme_settings_get

M = Campaign.Mechanic
PURCHASE_MECHANICS = {
    M.MULTIPLIER,
    M.FIXED_BONUS,
    M.NTH_PURCHASE,
    M.FIRST_PURCHASE,
    M.WIN_BACK,
    M.REFERRAL,
}


@dataclass(frozen=True)
class Wanted:
    campaign: Campaign
    points: int
    source: str  # unique per campaign: what caused it (the award is made once per source)
    detail: str


def _floor(value: Decimal) -> int:
    return int(value.quantize(Decimal("1"), rounding=ROUND_FLOOR))


def day_matches(campaign: Campaign, moment: datetime) -> bool:
    """Double-points days: the purchase's day in the programme time zone is one of the chosen
    weekdays or one of the chosen dates (month-day, every year). No days chosen: every day."""
    if not (campaign.weekdays or campaign.dates):
        return True
    local = moment.astimezone(ZoneInfo(programme_settings_get().time_zone))
    return local.weekday() in campaign.weekdays or f"{local:%m-%d}" in campaign.dates


def _filters_match(campaign: Campaign, txn: Transaction, store_code: str | None) -> bool:
    if campaign.channels and txn.channel not in campaign.channels:
        return False
    if campaign.store_codes and (store_code or "") not in campaign.store_codes:
        return False
    return day_matches(campaign, txn.occurred_at)


def _line_share(campaign: Campaign, lines: list[Any]) -> Decimal:
    if not (campaign.categories or campaign.skus):
        return Decimal("1")
    total = sum((line.amount for line in lines if line.amount > 0), Decimal("0"))
    if not total:
        return Decimal("0")
    matching = sum(
        (
            line.amount
            for line in lines
            if line.amount > 0
            and (line.sku in campaign.skus or line.category in campaign.categories)
        ),
        Decimal("0"),
    )
    return matching / total


def _required(campaign: Campaign, name: str) -> Any:
    """A setting the campaign's mechanic requires (its form and validation make sure it is set)."""
    value = getattr(campaign, name)
    if value is None:
        raise ValueError(f"Campaign {campaign.pk} ({campaign.mechanic}) has no {name}.")
    return value


def purchase_wanted(
    campaign: Campaign, *, txn: Transaction, earn_points: int, lines: list[Any] | None
) -> Wanted | None:
    """What the campaign would give for this purchase (before caps, stacking and budget)."""
    mechanic = campaign.mechanic
    source = f"purchase:{txn.pk}"
    store_code = txn.store.code if txn.store is not None else None
    if mechanic == M.MULTIPLIER:
        if not _filters_match(campaign, txn, store_code):
            return None
        if lines is None and (campaign.categories or campaign.skus):
            lines = list(txn.lines.all())
        share = _line_share(campaign, lines or [])
        extra = _floor(Decimal(earn_points) * share * (_required(campaign, "multiplier") - 1))
        if extra <= 0:
            return None
        return Wanted(campaign, extra, source, f"x{campaign.multiplier}")
    if mechanic == M.FIXED_BONUS:
        if txn.amount < _required(campaign, "min_spend") or not _filters_match(
            campaign, txn, store_code
        ):
            return None
        if (campaign.categories or campaign.skus) and not _line_share(
            campaign, lines if lines is not None else list(txn.lines.all())
        ):
            return None
        return Wanted(
            campaign, _required(campaign, "bonus_points"), source, f">= {campaign.min_spend}"
        )
    purchases = Transaction.objects.filter(
        Q(member_id=txn.member_id), kind=Transaction.Kind.PURCHASE
    ).exclude(pk=txn.pk)
    if mechanic == M.NTH_PURCHASE:
        before = purchases.filter(
            occurred_at__gte=campaign.starts_at, occurred_at__lte=txn.occurred_at
        ).count()
        if before + 1 != campaign.purchase_number:
            return None
        return Wanted(
            campaign, _required(campaign, "bonus_points"), source, f"#{campaign.purchase_number}"
        )
    if mechanic == M.FIRST_PURCHASE:
        if purchases.filter(occurred_at__lte=txn.occurred_at).exists():
            return None
        return Wanted(
            campaign,
            _required(campaign, "bonus_points"),
            f"first:{txn.member_id}",
            "first purchase",
        )
    if mechanic == M.WIN_BACK:
        since = campaign.starts_at - timedelta(days=_required(campaign, "lapsed_days"))
        earlier = purchases.filter(occurred_at__lte=txn.occurred_at).order_by("-occurred_at")
        last = earlier.values_list("occurred_at", flat=True).first()
        if last is None or last >= since:
            return None  # new customer, or not lapsed (or already back in this campaign)
        points = 0 if campaign.reward_id is not None else _required(campaign, "bonus_points")
        return Wanted(campaign, points, f"winback:{txn.member_id}", "win-back")
    return None


def earn_points_of(entries: list[LedgerEntry]) -> int:
    return sum(e.amount for e in entries if e.kind == LedgerEntry.Kind.EARN)


def apply_stacking(wanted: list[Wanted]) -> list[Wanted]:
    ordered = sorted(wanted, key=lambda w: (w.campaign.priority, w.campaign.pk))
    exclusive = [w for w in ordered if w.campaign.stacking == Campaign.Stacking.EXCLUSIVE]
    return exclusive[:1] if exclusive else ordered
