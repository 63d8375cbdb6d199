"""Reads composed for the clerk screen: the search box, the member card, recent purchases.

Each part comes from the owning app's selectors (members, ledger, tiers, rewards); this module
only puts them together for one screen, with a fixed number of queries per page whatever the
member's history or the size of the catalogue.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.engagement.selectors import MemberProgress, member_progress
from loyalty.clerk.barcode import code128_svg
from loyalty.ledger.exceptions import OriginalTransactionNotFound
from loyalty.ledger.models import Transaction
from loyalty.ledger.policy import local_date, programme_settings_get
from loyalty.ledger.selectors import AccountBalance, account_balance
from loyalty.tiers.models import TierPolicy
from loyalty.tiers.selectors import tier_member_progress
from members.exceptions import InvalidCardNumber, MemberNotFound
from members.identifiers import MEMBER_NUMBER_LENGTH
from members.models import Member, Store
from members.names import has_han
from members.selectors import (
    MAX_ID,
    member_list_for_staff,
    member_search,
    staff_store_for,
)
from rewards.selectors import CatalogueItem, reward_catalogue_for_member

NEW_MEMBER_DAYS = 30
EXPIRY_WARNING_DAYS = 30
RECENT_PURCHASES = 10
OFFERS_SHOWN = 8
ZERO = Decimal("0")


# --- who sees what --------------------------------------------------------------------------


def clerk_store(*, user: Any) -> Store | None:
    """The store a clerk works at (their staff profile): purchases, returns, redemptions and
    enrolments they record are booked there. None when the user has no store."""
    return staff_store_for(user=user)


def clerk_members(*, user: Any) -> QuerySet[Member]:
    """Members this user may open on the clerk screen: all, or only their store's when their
    staff profile restricts them to it; never an erased member."""
    return member_list_for_staff(user=user).filter(erased_at__isnull=True)


def clerk_member_get(*, user: Any, member_id: int) -> Member:
    """A member the user may see, or MemberNotFound (also for another store's member: a
    restricted clerk learns nothing about members outside their store)."""
    if not 0 < member_id <= MAX_ID:
        raise MemberNotFound()
    member = clerk_members(user=user).filter(pk=member_id).first()
    if member is None:
        raise MemberNotFound()
    return member


# --- the search box -------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    query: str
    members: list[Member] = field(default_factory=list)
    kind: str = ""  # card | email | phone | identity | name | "" (nothing typed)
    message: str = ""  # in words, when nothing was found
    open_member: Member | None = None  # Enter opens this member at once (card, unique contact)


def _unknown_card(number: str) -> str:
    return _(
        "No member with card number %(number)s. Check the number or search by name, phone or "
        "e-mail."
    ) % {"number": number}


def clerk_member_search(*, user: Any, query: str, limit: int = 10) -> SearchResult:
    """The one search box: a card number (what a scanner types), a phone number, an e-mail or
    the start of a name. One query for the matches (members.selectors.member_lookup)."""
    query = " ".join((query or "").split())
    if not query:
        return SearchResult(query="")
    compact = query.replace(" ", "")
    if compact.isdigit() and len(compact) == MEMBER_NUMBER_LENGTH:
        query = compact
    try:
        found = member_search(query=query, limit=limit, among=clerk_members(user=user))
    except InvalidCardNumber:
        return SearchResult(query=query, kind="card", message=_unknown_card(query))
    kind, members = found.kind, found.members
    if not members:
        if kind == "card":
            message = _unknown_card(query)
        elif kind == "name" and len(query) < 2 and not has_han(query):
            message = _("Type at least two letters of the name.")
        else:
            message = {
                "email": _("No member found with e-mail “%(query)s”. Check it or try another way."),
                "phone": _(
                    "No member found with phone number “%(query)s”. Check it or try another way."
                ),
                "name": _("No member found with name “%(query)s”. Check it or try another way."),
            }[kind] % {"query": query}
        return SearchResult(query=query, kind=kind, message=message)
    unique = kind in {"card", "email", "phone", "identity"} and len(members) == 1
    return SearchResult(
        query=query, members=members, kind=kind, open_member=members[0] if unique else None
    )


# --- the member card ------------------------------------------------------------------------


@dataclass(frozen=True)
class Badge:
    label: str
    tone: str  # good | info | warn | bad


@dataclass(frozen=True)
class TierView:
    name: str
    next_name: str | None
    spend_based: bool
    value: Decimal
    next_threshold: Decimal | None
    needed: Decimal | None
    percent: int  # 0..100 towards the next tier (100 at the top tier)
    window_end: date | None


@dataclass(frozen=True)
class PurchaseRow:
    transaction: Transaction
    returned: Decimal
    returnable: Decimal


@dataclass(frozen=True)
class MemberCard:
    member: Member
    barcode_svg: str
    balance: AccountBalance
    currency: str
    available_value: Decimal
    tier: TierView | None
    badges: list[Badge]
    offers: list[CatalogueItem]
    purchases: list[PurchaseRow]
    consents: dict[str, bool]
    catalogue: list[CatalogueItem] = field(default_factory=list)  # all of it (suggestions)
    progress: MemberProgress | None = None  # badges, streak, stage, next badge and reward
    time_zone: str = "UTC"  # the programme's: days and times on the card are written in it


def _tier_view(member: Member, today: date) -> TierView | None:
    progress = tier_member_progress(member=member, today=today)
    if progress is None or progress.tier is None:
        return None
    nxt = progress.next_tier
    if nxt is None or nxt.threshold <= 0:
        percent = 100
    else:
        ratio = Decimal(progress.qualifying_value) / Decimal(nxt.threshold)
        percent = int(min(ratio, Decimal(1)) * 100)
    return TierView(
        name=progress.tier.name,
        next_name=nxt.name if nxt else None,
        spend_based=progress.basis == TierPolicy.Basis.SPEND,
        value=progress.qualifying_value,
        next_threshold=nxt.threshold if nxt else None,
        needed=progress.needed_for_next,
        percent=max(percent, 0),
        window_end=progress.window_end,
    )


def _badges(member: Member, balance: AccountBalance, today: date) -> list[Badge]:
    badges = []
    if member.status == Member.Status.SUSPENDED:
        badges.append(Badge(_("Suspended"), "bad"))
    elif member.status == Member.Status.CLOSED:
        badges.append(Badge(_("Closed"), "bad"))
    if member.enrolled_at >= timezone.now() - timedelta(days=NEW_MEMBER_DAYS):
        badges.append(Badge(_("New member"), "good"))
    if member.birth_date and member.birth_date.month == today.month:
        badges.append(Badge(_("Birthday this month"), "good"))
    if balance.next_expiry_date and balance.next_expiry_date <= today + timedelta(
        days=EXPIRY_WARNING_DAYS
    ):
        badges.append(Badge(_("Points expiring soon"), "warn"))
    if balance.debt:
        badges.append(Badge(_("Owes %(debt)s points") % {"debt": balance.debt}, "warn"))
    return badges


def _purchases(member: Member) -> QuerySet[Transaction]:
    return (
        Transaction.objects.filter(member=member, kind=Transaction.Kind.PURCHASE)
        .select_related("store")
        .annotate(
            returned=Coalesce(
                Sum("returns__amount"),
                Value(ZERO),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            )
        )
    )


def _row(purchase: Transaction) -> PurchaseRow:
    returned = purchase.returned  # type: ignore[attr-defined]
    return PurchaseRow(purchase, returned, max(purchase.amount - returned, ZERO))


def clerk_recent_purchases(*, member: Member, limit: int = RECENT_PURCHASES) -> list[PurchaseRow]:
    """The member's latest purchases with what is left to return on each, in one query."""
    return [_row(t) for t in _purchases(member).order_by("-occurred_at", "-pk")[:limit]]


def clerk_purchase_get(*, member: Member, purchase_id: int) -> PurchaseRow:
    """One of this member's purchases with what is left to return on it, or
    OriginalTransactionNotFound (also for another member's purchase)."""
    purchase = (
        _purchases(member).filter(pk=purchase_id).first() if 0 < purchase_id <= MAX_ID else None
    )
    if purchase is None:
        raise OriginalTransactionNotFound(_("That purchase was not found for this member."))
    return _row(purchase)


def clerk_member_card(*, member: Member) -> MemberCard:
    """Everything the member card shows. A fixed number of queries (about 20), whatever the
    member's history or the size of the catalogue."""
    programme = programme_settings_get()
    today = local_date(programme, timezone.now())
    balance = account_balance(member=member)
    offers = reward_catalogue_for_member(member=member)
    return MemberCard(
        member=member,
        barcode_svg=code128_svg(
            member.member_number,
            label=_("Card %(member_number)s") % {"member_number": member.member_number},
        ),
        balance=balance,
        currency=programme.currency,
        time_zone=programme.time_zone,
        available_value=(Decimal(balance.available) * programme.point_value).quantize(
            Decimal("0.01")
        ),
        tier=_tier_view(member, today),
        badges=_badges(member, balance, today),
        offers=offers[:OFFERS_SHOWN],
        purchases=clerk_recent_purchases(member=member),
        consents={c.channel: c.granted for c in member.consents.all()},
        catalogue=offers,
        progress=member_progress(member=member, catalogue=offers),
    )
