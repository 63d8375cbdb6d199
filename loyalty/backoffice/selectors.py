"""A member's whole story for staff: balance in words, tier progress and one timeline.

This module sits above every domain app (the admin layer), so it may read all of them; each
app's own tables are read through that app's selectors or its models' querysets, never
written. The timeline merges the newest rows of each source: every source is read with the
same limit (the rows the page needs, plus one to know there is an older page), newest first,
each on an index that starts with the member.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Exists, F, OuterRef, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.ledger.models import LedgerEntry, PointsAccount, Transaction
from loyalty.ledger.selectors import account_balance, account_lot_schedule
from loyalty.tiers.models import TierAssignment
from loyalty.tiers.selectors import tier_history, tier_member_progress
from members.models import ConsentEvent, Member, MemberEvent
from rewards.models import Redemption, Voucher

TIMELINE_PAGE_SIZE = 20
EXPIRING_SOON_DAYS = 90

# (key, label) of the timeline filter, in the order the page offers them
TIMELINE_KINDS: tuple[tuple[str, Any], ...] = (
    ("purchase", gettext_lazy("Purchases")),
    ("return", gettext_lazy("Returns")),
    ("points", gettext_lazy("Points earned, expired, reversed")),
    ("redemption", gettext_lazy("Redemptions")),
    ("voucher", gettext_lazy("Vouchers")),
    ("tier", gettext_lazy("Tier changes")),
    ("consent", gettext_lazy("Consents")),
    ("staff", gettext_lazy("Staff actions")),
)
TIMELINE_KIND_KEYS = tuple(key for key, _label in TIMELINE_KINDS)

# Ledger entries that are not already told by their purchase, return or redemption row
POINTS_ENTRY_KINDS = ("earn", "bonus", "expire", "reversal", "refund", "opening_balance")


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # one of TIMELINE_KIND_KEYS
    title: str
    detail: str = ""
    points: int | None = None
    actor: str = ""
    url: str = ""


@dataclass(frozen=True)
class TimelinePage:
    items: list[TimelineItem]
    page: int
    has_older: bool
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class PointsDated:
    points: int
    on: date


@dataclass(frozen=True)
class MemberStory:
    member: Member
    available: int
    pending: list[PointsDated]  # becoming spendable, soonest first
    expiring_soon: list[PointsDated]  # within EXPIRING_SOON_DAYS, soonest first
    debt: int
    balance: int
    lifetime_earned: int
    point_value: Decimal
    tier: Any = None  # loyalty.tiers.selectors.TierProgress or None (no tiers set up)
    tier_basis: str = ""  # what the tier thresholds count, in words
    consents: list[Any] = field(default_factory=list)
    giving: "GivingCard | None" = None


@dataclass(frozen=True)
class GivingCard:
    """Donations to causes and sustainability actions (recycling, own cup), side by side."""

    donated_points: int
    brand_matched_points: int
    donations: list[Any]  # rewards.Donation, newest first
    actions_count: int
    actions_points: int
    actions: list[Any]  # campaigns.ActionEvent, newest first


GIVING_ROWS = 5


def member_giving(*, member: Member) -> GivingCard:
    """What the member gave and did for the planet: four queries, whatever the history."""
    from django.db.models import Count, Sum

    from campaigns.models import SUSTAINABILITY_ACTIONS, ActionEvent
    from rewards.models import Donation

    donations = Donation.objects.filter(member=member)
    given = donations.aggregate(points=Sum("points"), matched=Sum("matched_points"))
    actions = ActionEvent.objects.filter(member=member, kind__in=SUSTAINABILITY_ACTIONS)
    done = actions.aggregate(n=Count("pk"), points=Sum("points_awarded"))
    return GivingCard(
        donated_points=given["points"] or 0,
        brand_matched_points=given["matched"] or 0,
        donations=list(donations.select_related("cause").order_by("-created_at")[:GIVING_ROWS]),
        actions_count=done["n"] or 0,
        actions_points=done["points"] or 0,
        actions=list(actions.order_by("-occurred_at", "-pk")[:GIVING_ROWS]),
    )


def member_story(*, member: Member, now: datetime | None = None) -> MemberStory:
    """Profile, balance in words and tier progress (the timeline is paged separately)."""
    now = now or timezone.now()
    balance = account_balance(member=member, as_of=now)
    schedule = account_lot_schedule(
        member=member, as_of=now, expiring_before=now + timedelta(days=EXPIRING_SOON_DAYS)
    )
    tier = tier_member_progress(member=member)
    basis = ""
    if tier is not None:
        basis = _("qualifying points") if tier.basis == "points" else _("qualifying spend")
    return MemberStory(
        member=member,
        available=balance.available,
        pending=[PointsDated(points, on) for on, points in schedule.pending_by_date],
        expiring_soon=[PointsDated(points, on) for on, points in schedule.expiring_by_date],
        debt=balance.debt,
        balance=balance.balance,
        lifetime_earned=balance.lifetime_earned,
        point_value=balance.point_value,
        tier=tier,
        tier_basis=basis,
        consents=list(member.consents.order_by("channel")),
        giving=member_giving(member=member),
    )


def member_timeline(
    *,
    member: Member,
    kinds: tuple[str, ...] | list[str] = (),
    page: int = 1,
    per_page: int = TIMELINE_PAGE_SIZE,
) -> TimelinePage:
    """One list, newest first, of everything that happened to a member; `kinds` narrows it
    (empty: everything). Page 1 is the newest."""
    wanted = tuple(k for k in kinds if k in TIMELINE_KIND_KEYS) or TIMELINE_KIND_KEYS
    page = max(page, 1)
    limit = page * per_page + 1
    items: list[TimelineItem] = []
    for kind in wanted:
        if kind == "points":
            # on the whole timeline a purchase's or return's own entries are told by its row
            items.extend(_points(member, limit, with_transactions="purchase" not in wanted))
        else:
            items.extend(_SOURCES[kind](member, limit))
    items.sort(key=lambda item: item.at, reverse=True)
    start = (page - 1) * per_page
    return TimelinePage(
        items=items[start : start + per_page],
        page=page,
        has_older=len(items) > start + per_page,
        kinds=wanted if kinds else (),
    )


def _user(user: Any) -> str:
    return user.get_username() if user is not None else ""


def _transactions(member: Member, limit: int, kind: str) -> list[TimelineItem]:
    rows = (
        Transaction.objects.filter(member=member, kind=kind)
        .select_related("store", "created_by")
        .order_by("-occurred_at", "-id")[:limit]
    )
    out = []
    for txn in rows:
        where = str(txn.store) if txn.store_id else txn.get_channel_display()
        if kind == Transaction.Kind.PURCHASE:
            title = _("Purchase of %(amount)s %(currency)s at %(where)s") % {
                "amount": txn.amount,
                "currency": txn.currency,
                "where": where,
            }
            points = txn.points_earned
        else:
            title = _("Return of %(amount)s %(currency)s at %(where)s") % {
                "amount": txn.amount,
                "currency": txn.currency,
                "where": where,
            }
            points = -txn.points_reversed if txn.points_reversed else 0
        out.append(
            TimelineItem(
                at=txn.occurred_at,
                kind=kind,
                title=title,
                detail=_("receipt %(ref)s") % {"ref": txn.external_id},
                points=points,
                actor=_user(txn.created_by),
                url=reverse("admin:ledger_transaction_change", args=[txn.pk]),
            )
        )
    return out


def _purchases(member: Member, limit: int) -> list[TimelineItem]:
    return _transactions(member, limit, Transaction.Kind.PURCHASE)


def _returns(member: Member, limit: int) -> list[TimelineItem]:
    return _transactions(member, limit, Transaction.Kind.RETURN)


def _ledger(member: Member, limit: int, kinds: tuple[str, ...]) -> QuerySet[LedgerEntry]:
    return (
        LedgerEntry.objects.filter(account__member=member, kind__in=kinds)
        .select_related("created_by")
        .order_by("-effective_at", "-id")[:limit]
    )


def _entry_item(entry: LedgerEntry, kind: str) -> TimelineItem:
    return TimelineItem(
        at=entry.effective_at,
        kind=kind,
        title=entry.get_kind_display(),
        detail=entry.reason,
        points=entry.amount,
        actor=_user(entry.created_by),
        url=reverse("admin:ledger_ledgerentry_change", args=[entry.pk]),
    )


def _points(member: Member, limit: int, *, with_transactions: bool = True) -> list[TimelineItem]:
    entries = _ledger(member, limit, POINTS_ENTRY_KINDS)
    if not with_transactions:
        entries = (
            LedgerEntry.objects.filter(account__member=member, kind__in=POINTS_ENTRY_KINDS)
            .exclude(source_type__in=("purchase", "return"))
            .select_related("created_by")
            .order_by("-effective_at", "-id")[:limit]
        )
    return [_entry_item(e, "points") for e in entries]


def _redemptions(member: Member, limit: int) -> list[TimelineItem]:
    rows = (
        Redemption.objects.filter(member=member)
        .select_related("reward", "created_by")
        .order_by("-created_at", "-id")[:limit]
    )
    out = []
    for r in rows:
        what = r.reward.name if r.reward is not None else r.get_kind_display()
        title = _("Redeemed %(what)s") % {"what": what}
        if r.status == Redemption.Status.CANCELLED:
            title = _("%(title)s (cancelled)") % {"title": title}
        out.append(
            TimelineItem(
                at=r.created_at,
                kind="redemption",
                title=title,
                detail=r.cancel_reason,
                points=-r.points,
                actor=_user(r.created_by),
                url=reverse("admin:rewards_redemption_change", args=[r.pk]),
            )
        )
    return out


def _vouchers(member: Member, limit: int) -> list[TimelineItem]:
    # a voucher's story is its issue (told by the redemption) and its use: the used ones here
    rows = (
        Voucher.objects.filter(member=member, used_at__isnull=False)
        .select_related("used_store", "used_by", "redemption__reward")
        .order_by("-used_at", "-id")[:limit]
    )
    return [
        TimelineItem(
            at=v.used_at,  # type: ignore[arg-type]
            kind="voucher",
            title=_("Voucher %(code)s used") % {"code": v.code},
            detail=str(v.used_store) if v.used_store_id else v.order_ref,
            actor=_user(v.used_by),
            url=reverse("admin:rewards_voucher_change", args=[v.pk]),
        )
        for v in rows
    ]


def _tiers(member: Member, limit: int) -> list[TimelineItem]:
    rows = tier_history(member_id=member.pk).select_related("actor")[:limit]
    out = []
    for a in rows:
        if a.previous_tier_id:
            title = _("Tier %(old)s → %(new)s") % {"old": a.previous_tier, "new": a.tier}
        else:
            title = _("Tier %(new)s") % {"new": a.tier}
        out.append(
            TimelineItem(
                at=a.valid_from,
                kind="tier",
                title=title,
                detail=" · ".join(filter(None, [a.get_reason_display(), a.note])),
                actor=_user(a.actor),
                url=reverse("admin:tiers_tierassignment_change", args=[a.pk]),
            )
        )
    return out


def _consents(member: Member, limit: int) -> list[TimelineItem]:
    rows = (
        ConsentEvent.objects.filter(member=member)
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )
    return [
        TimelineItem(
            at=e.created_at,
            kind="consent",
            title=(
                _("%(channel)s consent given") if e.granted else _("%(channel)s consent withdrawn")
            )
            % {"channel": e.get_channel_display()},
            detail=_("via %(source)s") % {"source": e.source},
            actor=_user(e.actor),
        )
        for e in rows
    ]


def _staff(member: Member, limit: int) -> list[TimelineItem]:
    events = (
        MemberEvent.objects.filter(member=member)
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )
    items = [
        TimelineItem(
            at=e.created_at,
            kind="staff",
            title=e.get_kind_display(),
            detail=e.describe(),
            actor=_user(e.actor),
        )
        for e in events
    ]
    items += [_entry_item(e, "staff") for e in _ledger(member, limit, ("adjust",))]
    return items


_SOURCES = {
    "purchase": _purchases,
    "return": _returns,
    "redemption": _redemptions,
    "voucher": _vouchers,
    "tier": _tiers,
    "consent": _consents,
    "staff": _staff,
}


# --- the members list ------------------------------------------------------------------------

ACTIVE_DAYS = 60  # bought within: active
LAPSED_DAYS = 90  # no purchase for longer: lapsed (between the two: lapsing)


def member_list_with_points(queryset: QuerySet[Member]) -> QuerySet[Member]:
    """The staff members list: each row with its balance and current tier name, annotated in
    the same query (no query per row)."""
    current_tier = TierAssignment.objects.filter(
        member=OuterRef("pk"), valid_to__isnull=True
    ).values("tier__name")[:1]
    current_rank = TierAssignment.objects.filter(
        member=OuterRef("pk"), valid_to__isnull=True
    ).values("tier__rank")[:1]
    return queryset.annotate(
        points_balance=F("points_account__balance"),
        tier_name=Subquery(current_tier),
        tier_rank=Subquery(current_rank),
    )


def member_filter_by_tier(queryset: QuerySet[Member], *, tier_code: str) -> QuerySet[Member]:
    return queryset.filter(
        Exists(
            TierAssignment.objects.filter(
                member=OuterRef("pk"), valid_to__isnull=True, tier__code=tier_code
            )
        )
    )


def member_filter_by_balance(
    queryset: QuerySet[Member], *, at_least: int | None, below: int | None
) -> QuerySet[Member]:
    accounts = PointsAccount.objects.filter(member=OuterRef("pk"))
    if at_least is not None:
        accounts = accounts.filter(balance__gte=at_least)
    if below is not None:
        accounts = accounts.filter(balance__lt=below)
    if at_least is None or at_least <= 0:
        # no account yet is a balance of 0
        no_account = ~Exists(PointsAccount.objects.filter(member=OuterRef("pk")))
        return queryset.filter(Exists(accounts) | no_account)
    return queryset.filter(Exists(accounts))


def member_filter_by_last_purchase(
    queryset: QuerySet[Member], *, state: str, now: datetime | None = None
) -> QuerySet[Member]:
    """state: active (bought within ACTIVE_DAYS), lapsing (last purchase between ACTIVE_DAYS
    and LAPSED_DAYS ago), lapsed (bought before, not within LAPSED_DAYS), never."""
    now = now or timezone.now()
    purchases = Transaction.objects.filter(member=OuterRef("pk"), kind=Transaction.Kind.PURCHASE)
    recent = Exists(purchases.filter(occurred_at__gte=now - timedelta(days=ACTIVE_DAYS)))
    within_lapse = Exists(purchases.filter(occurred_at__gte=now - timedelta(days=LAPSED_DAYS)))
    ever = Exists(purchases)
    if state == "active":
        return queryset.filter(recent)
    if state == "lapsing":
        return queryset.filter(within_lapse & ~recent)
    if state == "lapsed":
        return queryset.filter(ever & ~within_lapse)
    if state == "never":
        return queryset.filter(~ever)
    return queryset
