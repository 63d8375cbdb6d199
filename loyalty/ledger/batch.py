"""Many purchases in one call (POST /api/v1/ledger/purchases/batch/), set-based where it can be.

Same results as calling `purchase_record` for each purchase in order (tests/ledger/api/
test_purchase_batch.py compares every answer, entry, lot and award), in two modes:

- **set-based** (the usual case): one database transaction. The idempotency keys are looked up
  in one query; the accounts of every member of the batch are created if missing and locked once,
  in pk order (no deadlock with another batch or a single purchase, which lock one account); their
  open lots are loaded; then each purchase is posted in memory, in order, by the importer's bulk
  poster (loyalty/ledger/bulk.py: the same rules engine and rules, the rules' usage caps, the
  contributors reproduced by the registered bulk simulators, lots, running balances), and the
  transactions, lines, entries and lots are written with COPY (bulk INSERT on SQLite), the
  accounts updated once each, the purchase statistics and the simulators' rows (engagement) once.
  Each answer's balance is computed from the account as it stood after that purchase.
- **per item**, a purchase at a time through `purchase_record` in a savepoint of the same
  transaction, for the purchases the bulk poster does not reproduce: a replay or a key already
  used in the batch (the single path answers it), a promo code, points spent, a purchase that
  would change the member's tier (upgrade with its gift and messages) or that a simulator asks
  for (`batch_single_reason`). What the bulk poster holds is written first and it is reloaded
  after, so the order of the purchases is kept.

The whole batch runs per item, each purchase in its own transaction (as before this module), when
the set-based mode cannot reproduce the single path (`batch_blockers`): a contributor or hook
without a bulk simulator with a batch mode, an active per-day / per-month cap rule, active
campaigns (their awards, budgets and counters are written purchase by purchase).

All or nothing per purchase, never per request: a refused purchase leaves nothing (checked before
anything is posted for it, or its savepoint is rolled back); if the bulk write itself fails on a
unique key (a concurrent request recorded the same external id meanwhile), the purchases it held
are posted again one by one, each answering as the single path would.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from loyalty.core import events
from loyalty.ledger import rules as engine
from loyalty.ledger.bulk import BulkPoster, _Account, _Lot, _Plan, _Usage, bulk_blockers
from loyalty.ledger.models import LedgerEntry, PointsAccount, PointsLot, Transaction
from loyalty.ledger.policy import local_date, programme_settings_get
from loyalty.ledger.selectors import AccountBalance, account_balance
from loyalty.ledger.services.posting import credit_lot_times
from loyalty.ledger.services.transactions import (
    LineInput,
    PostingResult,
    _ctx,
    _validate_money,
    purchase_record,
)
from members.exceptions import MemberNotActive

try:  # COPY runs on the psycopg cursor itself: its errors are not wrapped by Django's
    from psycopg import IntegrityError as _CopyIntegrityError

    KEY_TAKEN: tuple[type[Exception], ...] = (IntegrityError, _CopyIntegrityError)
except ImportError:  # pragma: no cover - SQLite-only installs
    KEY_TAKEN = (IntegrityError,)

Kind = LedgerEntry.Kind


@dataclass
class BatchPurchase:
    """One purchase of a batch, its references resolved by the caller."""

    member: Any
    channel: str
    external_id: str
    occurred_at: datetime
    amount: Decimal
    store: Any = None
    lines: list[LineInput] = field(default_factory=list)
    points_spent: int = 0
    customer_ref: str = ""
    promo_code: str = ""


@dataclass
class BatchPostingResult(PostingResult):
    """A purchase's result with the member's balance as it stood right after it (what the
    single endpoint answers; set-based, computed from the account's lots in memory)."""

    balance: AccountBalance | None = None


@dataclass
class BatchReport:
    results: list[PostingResult | Exception]
    mode: str  # "set-based" or "per item"
    blockers: list[str] = field(default_factory=list)  # why "per item"
    per_item: int = 0  # purchases of a set-based batch that went through purchase_record


def batch_blockers() -> list[str]:
    """Why the set-based mode cannot reproduce the single path now (empty: it can)."""
    reasons = bulk_blockers()
    for simulator, _covers in engine.BULK_SIMULATORS:
        blocker = getattr(simulator, "batch_blocker", None)
        if blocker is None:
            reasons.append(f"bulk simulator {simulator.__qualname__} has no batch mode")
        elif (reason := blocker()) is not None:
            reasons.append(reason)
    return reasons


class BatchPoster(BulkPoster):
    """The importer's bulk poster for live purchases: their own channel, store, actor and
    customer reference; after each purchase, the member's balance as the API answers it."""

    def __init__(self, *, members: dict[int, Any], actor: Any, now: datetime | None = None):
        # BulkPoster.__init__'s steps in the single path's lock order: the accounts first (pk
        # order), then the capped rules' rows; the simulators read the tiers and memberships
        # only once the accounts are held, so no purchase of these members changes them after
        self.now = now or timezone.now()
        self.programme = programme_settings_get()
        self.rules = engine.active_rules()
        self.members = members
        self.accounts = {}
        self.plan = _Plan()
        self.lock_accounts()
        self.usage = _Usage(self.rules, self.programme)
        self.simulators = [
            simulator(members={m.pk: m.enrolled_at for m in members.values()}, now=self.now)
            for simulator, _ in engine.BULK_SIMULATORS
        ]
        for simulator in self.simulators:
            simulator.live = True  # engagement: refreshed as a posting, milestones notified
        self.actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
        self.held: list[
            tuple[int, BatchPostingResult, dict[str, Any]]
        ] = []  # (index, result, txn row)

    def try_post(self, index: int, item: BatchPurchase) -> BatchPostingResult | str:
        """Post the purchase in memory, or say why it must go through the single path (nothing
        is changed then)."""
        programme = self.programme
        member = item.member
        txn: dict[str, Any] = {
            "kind": Transaction.Kind.PURCHASE,
            "channel": item.channel,
            "external_id": item.external_id,
            "member_id": member.pk if member else None,
            "store_id": item.store.pk if item.store is not None else None,
            "occurred_at": item.occurred_at,
            "amount": item.amount,
            "currency": programme.currency,
            "eligible_amount": Decimal("0"),
            "points_earned": 0,
            "points_reversed": 0,
            "points_uncollected": 0,
            "customer_ref": item.customer_ref,
            "created_by_id": self.actor_id,
            "created_at": self.now,
            "updated_at": self.now,
        }
        result = BatchPostingResult(
            transaction=Transaction(
                kind=Transaction.Kind.PURCHASE,
                channel=item.channel,
                external_id=item.external_id,
                member=member,
                store=item.store,
                occurred_at=item.occurred_at,
                amount=item.amount,
            ),
            created=True,
        )
        if member is None:
            self.plan.transactions.append(txn)
            self.plan.lines.extend((txn, line) for line in item.lines)
            self.held.append((index, result, txn))
            return result
        account = self.accounts[member.pk]
        ctx = _ctx(
            programme,
            member=member,
            channel=item.channel,
            store=item.store,
            occurred_at=item.occurred_at,
            amount=item.amount,
            paid_with_points=Decimal("0"),
            lines=item.lines,
        )
        contributions = [
            c
            for s in self.simulators
            for c in s.contributions(member.pk, occurred_at=item.occurred_at)
        ]
        earned = engine.evaluate(
            programme=programme,
            ctx=ctx,
            rules=self.rules,
            contributions=contributions,
            uses=self.usage.left(ctx),
        )
        credits = [(Kind.EARN, earned.points, "earn", "", earned.applied)] + [
            (Kind.BONUS, b.points, f"bonus:{b.source}", b.label, [b.explanation()])
            for b in earned.bonuses
        ]
        credits = [c for c in credits if c[1] > 0]
        posted = [(kind, points) for kind, points, *_ in credits]
        for simulator in self.simulators:
            reason = simulator.batch_single_reason(
                member_id=member.pk,
                kind=Transaction.Kind.PURCHASE,
                occurred_at=item.occurred_at,
                amount=item.amount,
                entries=posted,
            )
            if reason is not None:
                return str(reason)
        # from here on the purchase is posted in memory
        self.plan.transactions.append(txn)
        self.plan.lines.extend((txn, line) for line in item.lines)
        self.usage.record(txn, earned.used_rules)
        txn["eligible_amount"] = earned.eligible_amount
        txn["points_uncollected"] = earned.points_uncollected
        available, expiry = credit_lot_times(programme, item.occurred_at, pending=True)
        for kind, points, key, label, applied in credits:
            self._credit(
                account,
                txn=txn,
                kind=kind,
                points=points,
                key=key,
                available=available,
                expires=expiry,
                rules=applied,
                reason=label,
                created_by_id=self.actor_id,
            )
            txn["points_earned"] += points
        for simulator in self.simulators:
            simulator.posted(
                member_id=member.pk,
                kind=Transaction.Kind.PURCHASE,
                occurred_at=item.occurred_at,
                amount=item.amount,
                entries=posted,
            )
        txn_row = result.transaction
        txn_row.eligible_amount = earned.eligible_amount
        txn_row.points_earned = txn["points_earned"]
        txn_row.points_uncollected = earned.points_uncollected
        result.points_earned = txn["points_earned"]
        result.points_uncollected = earned.points_uncollected
        result.rules = earned.explanation()
        result.points_pending = result.points_earned if available > timezone.now() else 0
        result.balance = self._balance(account)
        self.held.append((index, result, txn))
        return result

    def _balance(self, account: _Account) -> AccountBalance:
        """What selectors.account_balance answers now, from the account's lots in memory (a
        lot posted by the single path within the batch, a tier gift, may start after self.now)."""
        now = timezone.now()
        available = pending = awaiting = 0
        next_expiry: datetime | None = None
        for lot in account.lots:
            if lot.remaining <= 0:
                continue
            if lot.expires_at is not None and lot.expires_at <= now:
                awaiting += lot.remaining
                continue
            if lot.available_from <= now:
                available += lot.remaining
            else:
                pending += lot.remaining
            if lot.expires_at is not None and (next_expiry is None or lot.expires_at < next_expiry):
                next_expiry = lot.expires_at
        next_points = 0
        next_date = None
        if next_expiry is not None:
            next_date = local_date(self.programme, next_expiry - timedelta(microseconds=1))
            next_points = sum(
                lot.remaining
                for lot in account.lots
                if lot.remaining > 0
                and lot.expires_at is not None
                and now < lot.expires_at <= next_expiry
            )
        return AccountBalance(
            balance=account.balance - awaiting,
            available=available,
            pending=pending,
            debt=account.debt,
            lifetime_earned=account.lifetime_earned,
            next_expiry_date=next_date,
            next_expiry_points=next_points,
            point_value=self.programme.point_value,
            awaiting_expiry=awaiting,
        )

    def flush(self) -> list[tuple[int, BatchPostingResult]]:
        """Write what is held; the results get their transaction ids and the points.earned
        events are published (after commit, as the single path's). Raises IntegrityError when a
        concurrent request recorded one of the external ids meanwhile (nothing is written then:
        the caller's savepoint)."""
        if not self.held:
            return []
        self.write()
        payloads = []
        for _index, result, txn in self.held:
            result.transaction.pk = txn["id"]
            member = result.transaction.member
            if member is None or not result.points_earned:
                continue
            store = result.transaction.store
            payloads.append(
                {
                    "member_id": member.pk,
                    "member_number": member.member_number,
                    "points": result.points_earned,
                    "balance": result.balance.balance + result.balance.awaiting_expiry
                    if result.balance is not None
                    else 0,
                    "source_type": "purchase",
                    "source_id": str(txn["id"]),
                    "pending": result.points_pending > 0,
                    "transaction_id": txn["id"],
                    "channel": txn["channel"],
                    "store": store.code if store is not None else None,
                    "external_id": txn["external_id"],
                    "occurred_at": txn["occurred_at"].isoformat(),
                }
            )
        events.publish_many("points.earned", payloads)
        done = [(index, result) for index, result, _txn in self.held]
        # written: the poster goes on from here with an empty plan
        for lot in self.plan.new_lots:
            lot.entry = None  # an existing lot from now on
        self.plan = _Plan()
        self.usage.new = []
        self.held = []
        return done

    def refresh(self, member: Any) -> bool:
        """Read the member's account, open lots and simulator state again after the purchase
        path posted for it. False when the poster cannot (rules with usage caps: their counts
        moved too; a simulator without `refresh`): the caller makes a new poster."""
        if self.usage.capped or any(not hasattr(s, "refresh") for s in self.simulators):
            return False
        account = self.accounts.get(member.pk)
        if account is None:
            return True  # not posted for here (an inactive member's replay)
        row = PointsAccount.objects.filter(pk=account.pk).values(
            "balance", "debt", "lifetime_earned"
        )[0]
        account.balance, account.debt = row["balance"], row["debt"]
        account.lifetime_earned = row["lifetime_earned"]
        account.lots = [
            _Lot(
                lot["account_id"],
                lot["amount"],
                lot["remaining"],
                lot["available_from"],
                lot["expires_at"],
                pk=lot["pk"],
            )
            for lot in PointsLot.objects.filter(account_id=account.pk, remaining__gt=0).values(
                "pk", "account_id", "amount", "remaining", "available_from", "expires_at"
            )
        ]
        for simulator in self.simulators:
            simulator.refresh({member.pk: member.enrolled_at})
        return True


def purchases_record_batch(
    *,
    purchases: list[BatchPurchase | Exception],
    actor: Any = None,
    refusal: Callable[[Exception], bool] = lambda exc: True,
) -> BatchReport:
    """Record each purchase as `purchase_record` would, in order; an Exception given in place
    of a purchase (the caller could not resolve its references) is its result as it is.
    Returns, per purchase, its PostingResult or the exception that refused it. `refusal(exc)`
    says whether an exception refuses only its purchase (else it is raised: the request fails,
    as the single endpoint's would)."""
    results: list[PostingResult | Exception | None] = [
        item if isinstance(item, Exception) else None for item in purchases
    ]
    todo = [
        (index, item) for index, item in enumerate(purchases) if isinstance(item, BatchPurchase)
    ]
    blockers = batch_blockers()
    per_item = 0
    if blockers:
        for index, item in todo:
            results[index] = _single(item, actor, refusal)
    elif todo:
        per_item = _set_based(todo, results, actor, refusal)
    return BatchReport(
        results=[r for r in results if r is not None],
        mode="per item" if blockers else "set-based",
        blockers=blockers,
        per_item=per_item,
    )


def _single(item: BatchPurchase, actor: Any, refusal: Callable[[Exception], bool]) -> Any:
    """The single path, in a transaction or savepoint of its own."""
    try:
        with transaction.atomic():
            result = purchase_record(
                member=item.member,
                channel=item.channel,
                external_id=item.external_id,
                occurred_at=item.occurred_at,
                amount=item.amount,
                store=item.store,
                lines=item.lines,
                points_spent=item.points_spent,
                customer_ref=item.customer_ref,
                actor=actor,
                promo_code=item.promo_code,
            )
            member = result.transaction.member
            # the balance as this purchase left it (later ones of the batch may change it)
            balance = account_balance(member=member, account=result.account) if member else None
            return BatchPostingResult(**vars(result), balance=balance)
    except Exception as exc:
        if not refusal(exc):
            raise
        return exc


@transaction.atomic
def _set_based(
    todo: list[tuple[int, BatchPurchase]],
    results: list[Any],
    actor: Any,
    refusal: Callable[[Exception], bool],
) -> int:
    # an inactive member's purchase is refused before anything is posted: no account made for it
    members = {item.member.pk: item.member for _, item in todo if _posts(item)}
    now = timezone.now()
    # every account of the batch locked once, in pk order, before anything else is locked
    poster: BatchPoster | None = BatchPoster(members=members, actor=actor, now=now)
    # the keys recorded before: one query (by channel, the unique index's leading column)
    by_channel: dict[str, set[str]] = {}
    for _, item in todo:
        by_channel.setdefault(item.channel, set()).add(item.external_id)
    keys = Q()
    for channel, ids in by_channel.items():
        keys |= Q(channel=channel, external_id__in=sorted(ids))
    recorded = set(Transaction.objects.filter(keys).values_list("channel", "external_id"))
    seen: set[tuple[str, str]] = set()
    per_item = 0

    def flush() -> None:
        nonlocal poster
        if poster is None or not poster.held:
            return
        held = [(index, txn) for index, _result, txn in poster.held]
        try:
            with transaction.atomic():
                done = poster.flush()
        except KEY_TAKEN:
            # a concurrent request took one of the keys: each purchase again, by the single path
            poster = None
            for index, _txn in held:
                results[index] = _single(dict(todo)[index], actor, refusal)
            return
        for index, result in done:
            results[index] = result

    for position, (index, item) in enumerate(todo):
        key = (item.channel, item.external_id)
        reason = ""
        try:
            _validate_money(item.amount, item.occurred_at)
        except ValidationError as exc:
            results[index] = exc
            continue
        if key in recorded or key in seen:
            reason = "replay"
        elif item.member is not None and not item.member.is_active:
            results[index] = MemberNotActive(
                extra={"member_id": item.member.pk, "status": item.member.status}
            )
            continue
        elif item.promo_code:
            reason = "promo code"
        elif item.points_spent:
            reason = "points spent"
        if not reason:
            if poster is None:  # reloaded after a purchase went through the single path
                rest = {i.member.pk: i.member for _, i in todo[position:] if _posts(i)}
                poster = BatchPoster(members=rest, actor=actor, now=now)
            outcome = poster.try_post(index, item)
            if not isinstance(outcome, str):
                seen.add(key)
                continue
            reason = outcome
        flush()  # the member's earlier purchases of the batch first, in order
        results[index] = _single(item, actor, refusal)
        per_item += 1
        seen.add(key)
        if poster is not None and item.member is not None and not poster.refresh(item.member):
            poster = None  # made again for the purchases left
    flush()
    return per_item


def _posts(item: BatchPurchase) -> bool:
    return item.member is not None and item.member.is_active
