"""Paid club writes: join, renew (from the payment the shop posts), cancel with the pro-rata
refund, lapse after grace, renewal reminders.

The pro-rata rule (written for members in docs/paid-membership.md):
- cancelling ends the benefits at once;
- the term in progress is refunded for its unused days: fee x (days of the term after the
  cancellation day) / (days in the term), rounded down to the cent; the cancellation day counts
  as used;
- a term paid in advance that has not started yet is refunded in full;
- in the grace period (the term is over) nothing is refunded.

Writes lock the member's row (`select_for_update` on the members table), so two requests for one
member (a double-clicked join, a renewal racing a cancellation) are serialised.
"""

from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.membership.exceptions import (
    AlreadyClubMember,
    ClubFeeMismatch,
    ClubMembershipCancelled,
    ClubMembershipLapsed,
    ClubPlanNotAvailable,
    PaymentReferenceReused,
)
from campaigns.membership.models import ClubMembership, ClubPlan, ClubTerm
from campaigns.membership.selectors import grace_until, local_day, programme_zone, term_end
from loyalty.ledger.models import NotificationOutbox
from members.exceptions import MemberNotActive
from members.models import Member

CENT = Decimal("0.01")


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _lock_member(member: Member) -> Member:
    return Member.objects.select_for_update(of=("self",)).get(pk=member.pk)


def _check_fee(plan: ClubPlan, amount: Decimal) -> None:
    if Decimal(amount) != plan.fee:
        raise ClubFeeMismatch(
            _("The amount paid (%(amount)s) is not the fee of %(plan)s (%(fee)s).")
            % {"amount": amount, "plan": plan.name, "fee": plan.fee},
            extra={"fee": str(plan.fee), "amount": str(amount)},
        )


def _replayed(payment_reference: str, member: Member) -> ClubMembership | None:
    """The membership a payment reference already paid (None: new payment)."""
    term = (
        ClubTerm.objects.select_related("membership")
        .filter(payment_reference=payment_reference)
        .first()
    )
    if term is None:
        return None
    if term.membership.member_id != member.pk:
        raise PaymentReferenceReused(extra={"payment_reference": payment_reference})
    return term.membership


def _reference(payment_reference: str) -> str:
    reference = (payment_reference or "").strip()
    if not reference:
        raise ValidationError({"payment_reference": [_("Give the payment's reference.")]})
    return reference[:100]


def _lapse_if_over(membership: ClubMembership, today: date) -> ClubMembership:
    if membership.status == ClubMembership.Status.ACTIVE and today > grace_until(membership):
        membership.status = ClubMembership.Status.LAPSED
        membership.lapsed_on = grace_until(membership) + timedelta(days=1)
        membership.save(update_fields=["status", "lapsed_on", "updated_at"])
    return membership


@transaction.atomic(durable=True)
def club_membership_join(
    *,
    member: Member,
    plan: ClubPlan,
    payment_reference: str,
    amount: Decimal,
    auto_renew: bool = True,
    paid_at: datetime | None = None,
    actor: Any = None,
) -> ClubMembership:
    """Start a membership with its first paid term (today to the term's end). Replaying the
    same payment reference returns the membership it started. Raises MemberNotActive,
    ClubPlanNotAvailable, AlreadyClubMember (renew instead), ClubFeeMismatch,
    PaymentReferenceReused."""
    reference = _reference(payment_reference)
    now = timezone.now()
    member = _lock_member(member)
    replay = _replayed(reference, member)
    if replay is not None:
        return replay
    if member.status != Member.Status.ACTIVE:
        raise MemberNotActive(extra={"status": member.status})
    if not plan.active:
        raise ClubPlanNotAvailable(extra={"plan": plan.code})
    _check_fee(plan, amount)
    today = local_day(now)
    current = (
        ClubMembership.objects.select_related("plan")
        .filter(member=member, status=ClubMembership.Status.ACTIVE)
        .first()
    )
    if current is not None and _lapse_if_over(current, today).status == "active":
        raise AlreadyClubMember(extra={"membership": current.pk, "ends_on": str(current.ends_on)})
    membership = ClubMembership(
        member=member,
        plan=plan,
        auto_renew=auto_renew,
        started_on=today,
        ends_on=term_end(today, plan.term_months),
        created_by=_user(actor),
    )
    membership.full_clean()
    membership.save()
    _term_add(membership, kind=ClubTerm.Kind.JOIN, starts_on=today, reference=reference,
              fee=plan.fee, paid_at=paid_at or now)  # fmt: skip
    return membership


def _term_add(
    membership: ClubMembership,
    *,
    kind: str,
    starts_on: date,
    reference: str,
    fee: Decimal,
    paid_at: datetime,
) -> ClubTerm:
    number = (
        membership.terms.order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    term = ClubTerm(
        membership=membership,
        number=number,
        kind=kind,
        starts_on=starts_on,
        ends_on=term_end(starts_on, membership.plan.term_months),
        fee=fee,
        payment_reference=reference,
        paid_at=paid_at,
    )
    term.full_clean()
    term.save()
    return term


@transaction.atomic(durable=True)
def club_membership_renew(
    *,
    membership: ClubMembership,
    payment_reference: str,
    amount: Decimal,
    paid_at: datetime | None = None,
    auto_renew: bool | None = None,
    actor: Any = None,
) -> ClubMembership:
    """Record a renewal from its payment: a new term from the day after the current one ends,
    whether paid early, on the day or in the grace period (no gap, no lost days). After the
    grace period the membership has lapsed: join again. The same payment reference again
    returns the membership unchanged. Raises ClubMembershipLapsed, ClubMembershipCancelled,
    ClubFeeMismatch, PaymentReferenceReused."""
    reference = _reference(payment_reference)
    now = timezone.now()
    _lock_member(membership.member)
    membership = ClubMembership.objects.select_related("plan", "member").get(pk=membership.pk)
    replay = _replayed(reference, membership.member)
    if replay is not None:
        return replay
    if membership.status == ClubMembership.Status.CANCELLED:
        raise ClubMembershipCancelled(extra={"membership": membership.pk})
    today = local_day(now)
    if _lapse_if_over(membership, today).status == ClubMembership.Status.LAPSED:
        raise ClubMembershipLapsed(
            _("The membership ended on %(day)s after its grace period; join again.")
            % {"day": grace_until(membership)},
            extra={"grace_until": str(grace_until(membership))},
        )
    _check_fee(membership.plan, amount)
    term = _term_add(
        membership,
        kind=ClubTerm.Kind.RENEWAL,
        starts_on=membership.ends_on + timedelta(days=1),
        reference=reference,
        fee=membership.plan.fee,
        paid_at=paid_at or now,
    )
    membership.ends_on = term.ends_on
    fields = ["ends_on", "updated_at"]
    if auto_renew is not None:
        membership.auto_renew = auto_renew
        fields.append("auto_renew")
    membership.save(update_fields=fields)
    return membership


def pro_rata_refund(*, term: ClubTerm, cancelled_on: date) -> Decimal:
    """The written rule: unused days of the term after the cancellation day, x fee / term days,
    rounded down to the cent; a term not started yet is refunded in full; an ended one not."""
    if cancelled_on < term.starts_on:
        return term.fee
    if cancelled_on >= term.ends_on:
        return Decimal("0.00")
    days = (term.ends_on - term.starts_on).days + 1
    unused = (term.ends_on - cancelled_on).days
    return (term.fee * unused / days).quantize(CENT, rounding=ROUND_FLOOR)


@transaction.atomic(durable=True)
def club_membership_cancel(
    *, membership: ClubMembership, reason: str, actor: Any = None
) -> ClubMembership:
    """End the membership now and record the refund due by the pro-rata rule (the shop pays it
    back). Idempotent: a cancelled membership is returned as it is."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the membership is cancelled.")]})
    _lock_member(membership.member)
    membership = ClubMembership.objects.select_related("plan", "member").get(pk=membership.pk)
    if membership.status == ClubMembership.Status.CANCELLED:
        return membership
    now = timezone.now()
    today = local_day(now)
    if _lapse_if_over(membership, today).status == ClubMembership.Status.LAPSED:
        raise ClubMembershipLapsed(extra={"grace_until": str(grace_until(membership))})
    total = Decimal("0.00")
    for term in ClubTerm.objects.select_for_update().filter(
        membership=membership, ends_on__gt=today
    ):
        term.refund = pro_rata_refund(term=term, cancelled_on=today)
        term.save(update_fields=["refund", "updated_at"])
        total += term.refund
    membership.status = ClubMembership.Status.CANCELLED
    membership.cancelled_at = now
    membership.cancel_reason = reason[:300]
    membership.refund = total
    membership.full_clean()
    membership.save(
        update_fields=["status", "cancelled_at", "cancel_reason", "refund", "updated_at"]
    )
    return membership


def club_memberships_lapse_due(*, today: date | None = None) -> int:
    """The nightly bookkeeping: memberships past their grace period become lapsed."""
    today = today or local_day(timezone.now())
    done = 0
    for membership in ClubMembership.objects.select_related("plan").filter(
        status=ClubMembership.Status.ACTIVE, ends_on__lt=today
    ):
        with transaction.atomic():
            before = membership.status
            if _lapse_if_over(membership, today).status != before:
                done += 1
    return done


def club_renewal_reminders_queue(*, today: date | None = None) -> int:
    """Queue the renewal reminder of every active membership whose term ends within its plan's
    reminder days, once per term (the outbox's dedupe key). Delivery (campaigns.messaging)
    sends it only with e-mail consent and within the weekly cap of marketing messages."""
    today = today or local_day(timezone.now(), programme_zone())
    rows = []
    for membership in ClubMembership.objects.select_related("plan").filter(
        status=ClubMembership.Status.ACTIVE,
        ends_on__gte=today,
        ends_on__lte=today + timedelta(days=60),
        plan__reminder_days__gt=0,
    ):
        plan = membership.plan
        if membership.ends_on - timedelta(days=plan.reminder_days) > today:
            continue
        rows.append(
            NotificationOutbox(
                member_id=membership.member_id,
                kind="club_renewal",
                payload={
                    "template_id": plan.reminder_template_id,
                    "channel": "email",
                    "plan": plan.name,
                    # ISO; written as a day in the member's message (campaigns.messaging)
                    "ends_on": membership.ends_on.isoformat(),
                    "fee": str(plan.fee),
                    "auto_renew": "yes" if membership.auto_renew else "no",
                },
                dedupe_key=f"club-renewal:{membership.pk}:{membership.ends_on.isoformat()}",
            )
        )
    if not rows:
        return 0
    existing = set(
        NotificationOutbox.objects.filter(dedupe_key__in=[r.dedupe_key for r in rows]).values_list(
            "dedupe_key", flat=True
        )
    )
    fresh = [row for row in rows if row.dedupe_key not in existing]
    NotificationOutbox.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(fresh)


def club_daily(*, today: date | None = None) -> dict[str, int]:
    return {
        "lapsed": club_memberships_lapse_due(today=today),
        "reminders": club_renewal_reminders_queue(today=today),
    }
