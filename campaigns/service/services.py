"""Writes of the customer service app: the bought-together table and feedback handling."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.service.exceptions import (
    FeedbackStatusInvalid,
    GoodwillAlreadyGranted,
    GoodwillNotAllowed,
)
from campaigns.service.models import GOODWILL_MAX_POINTS, BoughtTogether, Feedback, ProductStats
from loyalty.ledger.models import Transaction, TransactionLine
from loyalty.ledger.policy import programme_settings_get
from loyalty.ledger.services import points_adjust

TOP_PER_SKU = 20  # rows kept per product: the table stays small (skus x 20)
SKUS_PER_BATCH = 200  # anchor products per statement (the progress bar moves per batch)

Progress = Callable[[int, int], None]  # (products done, products in all)

# --- products bought together ------------------------------------------------------------------


def _excluded_sql(column: str, excluded: list[str]) -> tuple[str, list[str]]:
    """Products that are not products (postage, fees): the programme's excluded skus."""
    if not excluded:
        return f"{column} <> ''", []
    marks = ", ".join(["%s"] * len(excluded))
    return f"{column} <> '' AND {column} NOT IN ({marks})", list(excluded)


@transaction.atomic(durable=True)
def bought_together_rebuild(
    *, top: int = TOP_PER_SKU, batch: int = SKUS_PER_BATCH, progress: Progress | None = None
) -> int:
    """Recount, from every purchase's lines, which products are bought together.

    For each sku: the `top` other skus held by the most purchases that also hold it (a
    purchase counts once however many lines or items of each it has), ties by sku. Returns and
    the programme's excluded skus are left out. Set-based: one INSERT ... SELECT per batch of
    anchor skus (a self-join of the lines on the purchase, grouped, ranked by a window
    function); no purchase is loaded into Python. Readers see the old table until it commits.
    Returns the number of rows written."""
    excluded = [str(s) for s in (programme_settings_get().excluded_skus or [])]
    lines = TransactionLine._meta.db_table
    txns = Transaction._meta.db_table
    table = BoughtTogether._meta.db_table
    stats = ProductStats._meta.db_table
    now = timezone.now()
    a_ok, a_params = _excluded_sql("a.sku", excluded)
    b_ok, b_params = _excluded_sql("b.sku", excluded)
    purchase = Transaction.Kind.PURCHASE.value
    BoughtTogether.objects.all().delete()
    ProductStats.objects.all().delete()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # each batch groups a few million (purchase, product, product) rows: let PostgreSQL
            # hash them in memory rather than sort them on disk (this transaction only)
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(
            f"""
            INSERT INTO {stats} (sku, category, purchases, created_at, updated_at)
            SELECT a.sku, MAX(a.category), COUNT(DISTINCT a.transaction_id), %s, %s
            FROM {lines} a JOIN {txns} t ON t.id = a.transaction_id
            WHERE t.kind = %s AND {a_ok}
            GROUP BY a.sku
            """,
            [now, now, purchase, *a_params],
        )
        skus = list(ProductStats.objects.order_by("sku").values_list("sku", flat=True))
        written = 0
        for start in range(0, len(skus), batch):
            first, last = skus[start], skus[min(start + batch, len(skus)) - 1]
            cursor.execute(
                f"""
                INSERT INTO {table} (sku, other_sku, purchases, rank, created_at, updated_at)
                SELECT sku, other_sku, purchases, rnk, %s, %s FROM (
                    SELECT a.sku AS sku, b.sku AS other_sku, COUNT(*) AS purchases,
                           ROW_NUMBER() OVER (
                               PARTITION BY a.sku ORDER BY COUNT(*) DESC, b.sku
                           ) AS rnk
                    FROM (
                        SELECT DISTINCT a.transaction_id AS tid, a.sku AS sku
                        FROM {lines} a JOIN {txns} t ON t.id = a.transaction_id
                        WHERE t.kind = %s AND a.sku >= %s AND a.sku <= %s AND {a_ok}
                    ) a
                    JOIN (
                        SELECT DISTINCT b.transaction_id AS tid, b.sku AS sku
                        FROM {lines} b JOIN {txns} t ON t.id = b.transaction_id
                        WHERE t.kind = %s AND {b_ok}
                    ) b ON b.tid = a.tid AND b.sku <> a.sku
                    GROUP BY a.sku, b.sku
                ) ranked
                WHERE rnk <= %s
                """,
                [now, now, purchase, first, last, *a_params, purchase, *b_params, top],
            )
            written += max(cursor.rowcount, 0)
            if progress is not None:
                progress(min(start + batch, len(skus)), len(skus))
    return written


# --- feedback and complaints -------------------------------------------------------------------

# status -> statuses it may move to
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Feedback.Status.OPEN: (Feedback.Status.IN_PROGRESS, Feedback.Status.RESOLVED),
    Feedback.Status.IN_PROGRESS: (Feedback.Status.OPEN, Feedback.Status.RESOLVED),
    Feedback.Status.RESOLVED: (Feedback.Status.OPEN,),  # reopened
}


def _staff(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


@transaction.atomic
def feedback_create(
    *,
    member: Any,
    channel: str,
    category: str,
    text: str,
    kind: str = Feedback.Kind.COMPLAINT,
    score: int | None = None,
    store: Any = None,
    owner: Any = None,
    received_at: Any = None,
    actor: Any = None,
) -> Feedback:
    """Record what a member told us; it starts open."""
    feedback = Feedback(
        member=member,
        kind=kind,
        channel=channel,
        category=category,
        text=(text or "").strip(),
        score=score,
        store=store,
        owner=owner,
        received_at=received_at or timezone.now(),
        created_by=_staff(actor),
    )
    if feedback.received_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"received_at": [_("Feedback cannot be received in the future.")]})
    feedback.full_clean()
    feedback.save()
    return feedback


def _locked(feedback: Feedback) -> Feedback:
    return Feedback.objects.select_for_update(of=("self",)).get(pk=feedback.pk)


@transaction.atomic
def feedback_status_set(
    *,
    feedback: Feedback,
    status: str,
    actor: Any,
    resolution: str = "",
    owner: Any = None,
    now: datetime | None = None,
) -> Feedback:
    """Move feedback along open -> in progress -> resolved (or reopen it). Resolving needs a
    resolution in words; taking it in progress without an owner makes the actor its owner."""
    locked = _locked(feedback)
    if status != locked.status and status not in TRANSITIONS.get(locked.status, ()):
        raise FeedbackStatusInvalid(
            extra={"from": locked.status, "to": status, "allowed": TRANSITIONS[locked.status]}
        )
    fields = ["status", "updated_at"]
    resolution = (resolution or "").strip()
    if status == Feedback.Status.RESOLVED:
        if not resolution and not locked.resolution:
            raise ValidationError({"resolution": [_("Say how it was resolved.")]})
        if locked.status != Feedback.Status.RESOLVED:
            locked.resolved_at = now or timezone.now()
            locked.resolved_by = _staff(actor)
            fields += ["resolved_at", "resolved_by"]
    elif locked.status == Feedback.Status.RESOLVED:  # reopened
        locked.resolved_at = None
        locked.resolved_by = None
        fields += ["resolved_at", "resolved_by"]
    if resolution:
        locked.resolution = resolution
        fields.append("resolution")
    if owner is not None:
        locked.owner = owner
        fields.append("owner")
    elif status == Feedback.Status.IN_PROGRESS and locked.owner_id is None and _staff(actor):
        locked.owner = actor
        fields.append("owner")
    locked.status = status
    locked.full_clean()
    locked.save(update_fields=fields)
    return locked


def goodwill_allowed(actor: Any) -> bool:
    return bool(_staff(actor) and actor.has_perm("service.grant_goodwill"))


@transaction.atomic
def feedback_goodwill_grant(*, feedback: Feedback, points: int, actor: Any) -> Feedback:
    """Give the member `points` as an apology for this feedback, once. The points go through
    the ledger's `points_adjust` (attributed to the staff user, with the feedback as reason
    and source), under the feedback's row lock, so two clicks never pay twice."""
    if not goodwill_allowed(actor):
        raise GoodwillNotAllowed()
    if not 1 <= points <= GOODWILL_MAX_POINTS:
        raise ValidationError(
            {"goodwill_points": [_("From 1 to %(max)s points.") % {"max": GOODWILL_MAX_POINTS}]}
        )
    locked = _locked(feedback)
    if locked.goodwill_entry_id is not None:
        raise GoodwillAlreadyGranted(extra={"goodwill_points": locked.goodwill_points})
    entry = points_adjust(
        member=locked.member,
        points=points,
        reason=_("Goodwill for %(kind)s #%(id)s (%(category)s)")
        % {
            "kind": locked.get_kind_display().lower(),
            "id": locked.pk,
            "category": locked.get_category_display().lower(),
        },
        actor=actor,
        idempotency_key=f"goodwill:feedback:{locked.pk}",
        source_type="feedback",
        source_id=str(locked.pk),
    )
    locked.goodwill_points = points
    locked.goodwill_entry = entry
    locked.full_clean()
    locked.save(update_fields=["goodwill_points", "goodwill_entry", "updated_at"])
    return locked


@transaction.atomic
def feedback_resolve(
    *,
    feedback: Feedback,
    resolution: str,
    actor: Any,
    goodwill_points: int = 0,
    now: datetime | None = None,
) -> Feedback:
    """Resolve with a resolution in words and, optionally, a goodwill gesture in points: both
    happen or neither."""
    if goodwill_points:
        feedback = feedback_goodwill_grant(feedback=feedback, points=goodwill_points, actor=actor)
    return feedback_status_set(
        feedback=feedback,
        status=Feedback.Status.RESOLVED,
        resolution=resolution,
        actor=actor,
        now=now,
    )
