"""Ledger reads: balances, statements, recomputation for reconciliation."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Min, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from loyalty.ledger.models import LedgerEntry, PointsAccount, PointsLot, Transaction
from loyalty.ledger.policy import local_date, programme_settings_get


@dataclass(frozen=True)
class AccountBalance:
    # available + pending - debt at every instant: lots past their expiry count as expired
    # even before the nightly job has posted their EXPIRE entries (shown apart, below)
    balance: int
    available: int
    pending: int
    debt: int
    lifetime_earned: int
    next_expiry_date: date | None
    next_expiry_points: int
    point_value: Any  # Decimal: money value of one point
    # past their expiry, not yet taken by the nightly job ("expiring now"): never spendable and
    # not in `balance`; the account's cached balance still holds them until the job runs
    awaiting_expiry: int = 0


def account_balance(
    *, member: Any, as_of: datetime | None = None, account: PointsAccount | None = None
) -> AccountBalance:
    """`account`: the member's account as the caller holds it, current (e.g. just posted to
    under its lock), to save reading it again."""
    as_of = as_of or timezone.now()
    programme = programme_settings_get()
    if account is None:
        account = PointsAccount.objects.filter(member=member).first()
    if account is None:
        return AccountBalance(0, 0, 0, 0, 0, None, 0, programme.point_value)
    open_lots = PointsLot.objects.filter(account=account, remaining__gt=0)
    live = Q(expires_at__isnull=True) | Q(expires_at__gt=as_of)
    # one statement: the totals, the next expiry and the points expiring then (a subquery)
    first_expiry = Subquery(
        open_lots.filter(expires_at__gt=as_of).order_by("expires_at").values("expires_at")[:1]
    )
    totals = open_lots.aggregate(
        available=Sum("remaining", filter=Q(available_from__lte=as_of) & live),
        pending=Sum("remaining", filter=Q(available_from__gt=as_of) & live),
        awaiting_expiry=Sum("remaining", filter=~live),
        next_expiry=Min("expires_at", filter=Q(expires_at__gt=as_of)),
        next_points=Sum("remaining", filter=Q(expires_at__gt=as_of, expires_at__lte=first_expiry)),
    )
    next_expiry = totals["next_expiry"]
    next_points = 0
    next_date = None
    if next_expiry is not None:
        # expires_at is the first instant after the last valid day: the member sees that last day
        next_date = local_date(programme, next_expiry - timedelta(microseconds=1))
        next_points = int(totals["next_points"] or 0)
    awaiting = int(totals["awaiting_expiry"] or 0)
    return AccountBalance(
        balance=account.balance - awaiting,
        available=int(totals["available"] or 0),
        pending=int(totals["pending"] or 0),
        debt=account.debt,
        lifetime_earned=account.lifetime_earned,
        next_expiry_date=next_date,
        next_expiry_points=next_points,
        point_value=programme.point_value,
        awaiting_expiry=awaiting,
    )


def account_statement(
    *,
    member: Any,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[LedgerEntry]:
    entries = LedgerEntry.objects.filter(account__member=member).select_related(
        "created_by", "created_by__api_client"
    )
    if kind:
        entries = entries.filter(kind=kind)
    if since:
        entries = entries.filter(effective_at__gte=since)
    if until:
        entries = entries.filter(effective_at__lt=until)
    return entries.order_by("-effective_at", "-id")


def account_balance_recompute(*, account: PointsAccount) -> int:
    return int(LedgerEntry.objects.filter(account=account).aggregate(t=Sum("amount"))["t"] or 0)


def transaction_get(*, channel: str, external_id: str) -> Transaction | None:
    return Transaction.objects.filter(channel=channel, external_id=external_id).first()


def member_ledger_export(member: Any) -> dict[str, Any]:
    """The ledger's section of a member's privacy export."""
    balance = account_balance(member=member)
    return {
        "balance": balance.balance,
        "available": balance.available,
        "pending": balance.pending,
        "lifetime_earned": balance.lifetime_earned,
        "entries": [
            {
                "at": e.effective_at.isoformat(),
                "kind": e.kind,
                "amount": e.amount,
                "balance_after": e.balance_after,
                "reason": e.reason,
            }
            for e in LedgerEntry.objects.filter(account__member=member).order_by(
                "effective_at", "id"
            )
        ],
        "transactions": [
            {
                "at": t.occurred_at.isoformat(),
                "kind": t.kind,
                "channel": t.channel,
                "external_id": t.external_id,
                "amount": str(t.amount),
                "points_earned": t.points_earned,
                "points_reversed": t.points_reversed,
            }
            for t in Transaction.objects.filter(member=member).order_by("occurred_at", "id")
        ],
    }


def ledger_adjustment_list(
    *,
    actor: Any = None,
    member: Any = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[LedgerEntry]:
    """Every manual change by staff (domain invariant 7): who, when, how many points and why."""
    entries = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUST).select_related(
        "created_by", "account__member"
    )
    if actor is not None:
        entries = entries.filter(created_by=actor)
    if member is not None:
        entries = entries.filter(account__member=member)
    if since:
        entries = entries.filter(effective_at__gte=since)
    if until:
        entries = entries.filter(effective_at__lt=until)
    return entries.order_by("-effective_at", "-id")


@dataclass(frozen=True)
class ExpiryPreview:
    members: int
    points: int
    liability: Decimal  # points x the programme's point value


def points_expire_all_preview(*, cutoff: datetime) -> ExpiryPreview:
    """What an "expire all" up to `cutoff` would take now: members, points and their value
    (every lot with points left that was earned before the cutoff, pending or past due)."""
    totals = PointsLot.objects.filter(remaining__gt=0, entry__effective_at__lt=cutoff).aggregate(
        members=Count("account_id", distinct=True), points=Sum("remaining")
    )
    points = int(totals["points"] or 0)
    value = programme_settings_get().point_value
    return ExpiryPreview(
        members=int(totals["members"] or 0),
        points=points,
        liability=(Decimal(points) * value).quantize(Decimal("0.01")),
    )


@dataclass(frozen=True)
class LotSchedule:
    pending_by_date: list[tuple[date, int]]  # (day the points become spendable, points)
    expiring_by_date: list[tuple[date, int]]  # (last day the points can be spent, points)


def account_lot_schedule(
    *, member: Any, as_of: datetime | None = None, expiring_before: datetime | None = None
) -> LotSchedule:
    """When a member's pending points become available and when their points expire, by day in
    the programme's time zone (two grouped queries on the member's open lots)."""
    as_of = as_of or timezone.now()
    programme = programme_settings_get()
    open_lots = PointsLot.objects.filter(account__member=member, remaining__gt=0).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=as_of)
    )
    pending: dict[date, int] = {}
    for available_from, remaining in open_lots.filter(available_from__gt=as_of).values_list(
        "available_from", "remaining"
    ):
        day = local_date(programme, available_from)
        pending[day] = pending.get(day, 0) + remaining
    expiring: dict[date, int] = {}
    due = open_lots.filter(expires_at__isnull=False)
    if expiring_before is not None:
        due = due.filter(expires_at__lte=expiring_before)
    for expires_at, remaining in due.values_list("expires_at", "remaining"):
        if expires_at is None:  # excluded by the filter above; narrows the type
            continue
        # expires_at is the first instant after the last valid day: staff see that last day
        day = local_date(programme, expires_at - timedelta(microseconds=1))
        expiring[day] = expiring.get(day, 0) + remaining
    return LotSchedule(sorted(pending.items()), sorted(expiring.items()))
