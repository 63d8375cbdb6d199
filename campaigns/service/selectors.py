"""Reads of the customer service app: bought together, suggestions for a member, feedback lists
and the feedback figures analytics reads.

Suggestion rules (docs/service.md says the same in words):

- **Products**: the products bought together (BoughtTogether) with anything the member bought,
  scored by the sum, over the member's products, of the purchases holding both; highest score
  first, ties by sku. Left out: what the member already buys often (in OFTEN_PURCHASES or more
  of their purchases). A product they bought once can come back as a suggestion.
- **Rewards**: from the member's catalogue (tier, limits and stock already applied), those
  they can redeem now or soon ("soon": short by no more than the points of one of their
  average purchases), and that match what they buy: a reward for a product (free product,
  sku set) matches when they bought that product or its category; a reward not tied to a
  product (amount off, percent off, gift...) fits any basket. Product-matched first, then
  redeemable now before soon, the most valuable redeemable first, the closest soon first.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.service.models import BoughtTogether, Feedback, ProductStats
from loyalty.ledger.models import Transaction, TransactionLine
from members.models import Member
from rewards.models import Reward
from rewards.selectors import CatalogueItem, reward_catalogue_for_member

OFTEN_PURCHASES = 2  # bought in this many purchases or more: "buys it often", not suggested
PRODUCTS_SHOWN = 5
REWARDS_SHOWN = 3
BECAUSE_SHOWN = 2  # products named as the reason of a suggestion


# --- bought together ---------------------------------------------------------------------------


def bought_together_for_sku(*, sku: str, limit: int = 10) -> QuerySet[BoughtTogether]:
    """The products most often in the same purchase as `sku`, most often first, ties by sku."""
    return BoughtTogether.objects.filter(sku=sku, rank__lte=limit).order_by("rank")


def bought_together_built_at() -> datetime | None:
    at: datetime | None = BoughtTogether.objects.aggregate(at=Max("created_at"))["at"]
    return at


# --- suggestions for a member ------------------------------------------------------------------


@dataclass(frozen=True)
class ProductSuggestion:
    sku: str
    score: int  # sum of purchases holding it and one of the member's products
    because: list[str]  # the member's products it is most often bought with
    category: str = ""


@dataclass(frozen=True)
class RewardSuggestion:
    reward: Reward
    can_redeem: bool
    points_short: int
    matches: str  # "product" (their product or category) | "any" (not tied to a product)


@dataclass(frozen=True)
class MemberSuggestions:
    member: Member
    products: list[ProductSuggestion] = field(default_factory=list)
    rewards: list[RewardSuggestion] = field(default_factory=list)
    soon_points: int = 0  # "soon": short by at most this many points
    often_purchases: int = OFTEN_PURCHASES


def _member_lines(member: Member) -> QuerySet[TransactionLine]:
    return TransactionLine.objects.filter(
        transaction__member=member, transaction__kind=Transaction.Kind.PURCHASE
    ).exclude(sku="")


def member_product_suggestions(
    *, member: Member, limit: int = PRODUCTS_SHOWN, often: int = OFTEN_PURCHASES
) -> list[ProductSuggestion]:
    """Products to suggest to a member (rule in the module docstring). Three queries."""
    bought = _member_lines(member).values("sku")
    often_skus = (
        _member_lines(member)
        .values("sku")
        .annotate(n=Count("transaction_id", distinct=True))
        .filter(n__gte=often)
        .values("sku")
    )
    top = list(
        BoughtTogether.objects.filter(sku__in=bought)
        .exclude(other_sku__in=often_skus)
        .values("other_sku")
        .annotate(score=Sum("purchases"))
        .order_by("-score", "other_sku")[:limit]
    )
    if not top:
        return []
    skus = [row["other_sku"] for row in top]
    because: dict[str, list[str]] = {sku: [] for sku in skus}
    for sku, other in (
        BoughtTogether.objects.filter(other_sku__in=skus, sku__in=bought)
        .order_by("other_sku", "-purchases", "sku")
        .values_list("sku", "other_sku")
    ):
        if len(because[other]) < BECAUSE_SHOWN:
            because[other].append(sku)
    categories = dict(ProductStats.objects.filter(sku__in=skus).values_list("sku", "category"))
    return [
        ProductSuggestion(
            sku=row["other_sku"],
            score=row["score"],
            because=because[row["other_sku"]],
            category=categories.get(row["other_sku"], ""),
        )
        for row in top
    ]


def member_soon_points(*, member: Member) -> int:
    """The points of one of the member's average purchases: what "soon" means for rewards."""
    average = Transaction.objects.filter(member=member, kind=Transaction.Kind.PURCHASE).aggregate(
        avg=Avg("points_earned")
    )["avg"]
    return int(average or 0)


def member_reward_suggestions(
    *,
    member: Member,
    limit: int = REWARDS_SHOWN,
    soon_points: int | None = None,
    suggested_skus: list[str] | tuple[str, ...] = (),
    now: datetime | None = None,
    catalogue: list[CatalogueItem] | None = None,
) -> list[RewardSuggestion]:
    """Rewards to suggest to a member (rule in the module docstring). `catalogue`: the
    member's catalogue when the caller already has it (the clerk screen), else it is read."""
    soon = member_soon_points(member=member) if soon_points is None else soon_points
    if catalogue is None:
        catalogue = reward_catalogue_for_member(member=member, now=now)
    reachable = [
        item
        for item in catalogue
        if item.can_redeem
        or (item.reason_code == "insufficient_points" and item.points_short <= soon)
    ]
    product_skus = {item.reward.product_sku for item in reachable if item.reward.product_sku}
    categories: dict[str, str] = {}
    bought_skus: set[str] = set()
    bought_categories: set[str] = set()
    if product_skus:  # no reward for a product: nothing to match, no query
        categories = dict(
            ProductStats.objects.filter(sku__in=product_skus)
            .exclude(category="")
            .values_list("sku", "category")
        )
        lines = _member_lines(member)
        bought_skus = set(lines.filter(sku__in=product_skus).values_list("sku", flat=True))
        if categories:
            bought_categories = set(
                lines.filter(category__in=set(categories.values())).values_list(
                    "category", flat=True
                )
            )
    out = []
    for item in reachable:
        sku = item.reward.product_sku
        if not sku:
            matches = "any"
        elif (
            sku in bought_skus or sku in suggested_skus or categories.get(sku) in bought_categories
        ):
            matches = "product"
        else:
            continue
        out.append(RewardSuggestion(item.reward, item.can_redeem, item.points_short, matches))

    def order(s: RewardSuggestion) -> tuple[Any, ...]:
        if s.can_redeem:
            return (s.matches != "product", 0, -s.reward.points_cost, s.reward.pk)
        return (s.matches != "product", 1, s.points_short, s.reward.pk)

    return sorted(out, key=order)[:limit]


def member_suggestions(
    *,
    member: Member,
    products: int = PRODUCTS_SHOWN,
    rewards: int = REWARDS_SHOWN,
    now: datetime | None = None,
    catalogue: list[CatalogueItem] | None = None,
) -> MemberSuggestions:
    """What to suggest to this customer: products and rewards, each with why. A fixed number
    of queries (about 4, plus the catalogue's unless the caller gives it)."""
    suggested = member_product_suggestions(member=member, limit=products)
    soon = member_soon_points(member=member)
    return MemberSuggestions(
        member=member,
        products=suggested,
        rewards=member_reward_suggestions(
            member=member,
            limit=rewards,
            soon_points=soon,
            suggested_skus=[p.sku for p in suggested],
            now=now,
            catalogue=catalogue,
        ),
        soon_points=soon,
    )


# --- feedback ----------------------------------------------------------------------------------


def feedback_list(
    *,
    member: Member | None = None,
    status: str | None = None,
    kind: str | None = None,
    members: QuerySet[Member] | None = None,
) -> QuerySet[Feedback]:
    """Feedback newest first, with what the lists show (member, owner, store) in the query;
    `members` limits it to the members a caller may see."""
    rows = Feedback.objects.select_related("member", "owner", "store", "created_by")
    if member is not None:
        rows = rows.filter(member=member)
    if members is not None:
        rows = rows.filter(member__in=members)
    if status:
        rows = rows.filter(status=status)
    if kind:
        rows = rows.filter(kind=kind)
    return rows.order_by("-received_at", "-id")


def feedback_get(*, feedback_id: int, members: QuerySet[Member] | None = None) -> Feedback:
    return feedback_list(members=members).get(pk=feedback_id)


def complaints_open() -> QuerySet[Feedback]:
    """Complaints not resolved yet, oldest first (the one waiting longest on top); their age
    is `feedback_age`."""
    return (
        feedback_list(kind=Feedback.Kind.COMPLAINT)
        .exclude(status=Feedback.Status.RESOLVED)
        .order_by("received_at", "id")
    )


def feedback_age(feedback: Feedback, *, now: datetime | None = None) -> timedelta:
    end = feedback.resolved_at or now or timezone.now()
    return end - feedback.received_at


@dataclass(frozen=True)
class FeedbackStats:
    """Feedback received in [start, end): what analytics reads."""

    received: int
    complaints: int
    by_kind: dict[str, int]
    by_category: dict[str, int]
    by_channel: dict[str, int]
    open_complaints: int  # now, whenever received
    resolved: int  # received in the period and resolved since
    resolution_hours_avg: float | None  # received in the period and resolved: mean hours
    resolution_hours_max: float | None
    goodwill_points: int
    scores: int  # answers with a 0-10 score
    promoters: int  # 9-10
    detractors: int  # 0-6


def feedback_stats(*, start: datetime, end: datetime) -> FeedbackStats:
    """Counts and resolution time of the feedback received in [start, end), for analytics.
    A fixed number of queries; durations are averaged in Python over the resolved rows of the
    period (bounded by the period, and portable across PostgreSQL and SQLite)."""
    rows = Feedback.objects.filter(received_at__gte=start, received_at__lt=end)
    totals = rows.aggregate(
        received=Count("pk"),
        complaints=Count("pk", filter=Q(kind=Feedback.Kind.COMPLAINT)),
        goodwill=Coalesce(Sum("goodwill_points"), 0),
        scores=Count("pk", filter=Q(score__isnull=False)),
        promoters=Count("pk", filter=Q(score__gte=9)),
        detractors=Count("pk", filter=Q(score__lte=6)),
    )

    def counts(name: str) -> dict[str, int]:
        return dict(rows.values_list(name).annotate(n=Count("pk")).values_list(name, "n"))

    durations = [
        (resolved - received).total_seconds() / 3600
        for received, resolved in rows.filter(
            status=Feedback.Status.RESOLVED, resolved_at__isnull=False
        ).values_list("received_at", "resolved_at")
        if resolved is not None
    ]
    return FeedbackStats(
        received=totals["received"],
        complaints=totals["complaints"],
        by_kind=counts("kind"),
        by_category=counts("category"),
        by_channel=counts("channel"),
        open_complaints=Feedback.objects.filter(kind=Feedback.Kind.COMPLAINT)
        .exclude(status=Feedback.Status.RESOLVED)
        .count(),
        resolved=len(durations),
        resolution_hours_avg=round(sum(durations) / len(durations), 2) if durations else None,
        resolution_hours_max=round(max(durations), 2) if durations else None,
        goodwill_points=totals["goodwill"],
        scores=totals["scores"],
        promoters=totals["promoters"],
        detractors=totals["detractors"],
    )
