"""Campaign writes: saving and moving campaigns, audiences, awards under budget, actions,
referrals, static lists and RFM scores."""

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.cache import active_campaigns, campaign_stamp_bump
from campaigns.counts import count_later
from campaigns.exceptions import (
    ActionConflict,
    CampaignStatusInvalid,
    ReferralRefused,
)
from campaigns.models import (
    ActionEvent,
    Campaign,
    CampaignAudience,
    CampaignAward,
    CampaignStatusChange,
    Referral,
    Segment,
    SegmentListMember,
)
from loyalty.core.exceptions import ApplicationError
from loyalty.ledger.models import LedgerEntry, PointsAccount, Transaction
from loyalty.ledger.policy import programme_settings_get
from loyalty.ledger.services import points_earn, points_earn_locked
from loyalty.ledger.services.posting import account_lock_for_member
from members.models import Member

S = Campaign.Status
TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.SCHEDULED, S.ACTIVE, S.ENDED},
    S.SCHEDULED: {S.ACTIVE, S.PAUSED, S.ENDED, S.DRAFT},
    S.ACTIVE: {S.PAUSED, S.ENDED},
    S.PAUSED: {S.ACTIVE, S.ENDED},
    S.ENDED: set(),
}
LOCKED_AFTER_LAUNCH = ("segment", "holdout_percent", "mechanic")
HOLDOUT_BUCKETS = 10_000


# ------------------------------------------------------------------------------ cache stamp
# ---------------------------------------------------------------------------------- holdout
def is_holdout(*, campaign_id: int, member_id: int, percent: int) -> bool:
    """Stable: sha256 of "campaign:member" in 10,000 buckets; the first percent x 100 are held
    out. The same member is held out on every evaluation, in every process."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{campaign_id}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % HOLDOUT_BUCKETS < percent * HOLDOUT_BUCKETS // 100


# --------------------------------------------------------------------------------- campaigns
@transaction.atomic
def campaign_save(*, campaign: Campaign, actor: Any = None) -> Campaign:
    """Create or edit a campaign. After launch its segment, mechanic and holdout are fixed."""
    if campaign.pk and campaign.launched_at:
        before = Campaign.objects.get(pk=campaign.pk)
        changed = [n for n in LOCKED_AFTER_LAUNCH if getattr(before, n) != getattr(campaign, n)]
        if changed:
            raise ValidationError({n: _("Fixed once the campaign is launched.") for n in changed})
        if campaign.points_budget is not None and campaign.points_budget < before.points_awarded:
            raise ValidationError(
                {"points_budget": _("Already %(n)s points awarded.") % {"n": before.points_awarded}}
            )
    campaign.full_clean()
    created = campaign.pk is None
    campaign.save()
    if created:
        CampaignStatusChange.objects.create(
            campaign=campaign,
            from_status="",
            to_status=campaign.status,
            actor=_user(actor),
            reason=_("created"),
        )
    campaign_stamp_bump()
    return campaign


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


@transaction.atomic
def campaign_status_change(
    *,
    campaign: Campaign,
    to_status: str,
    actor: Any = None,
    reason: str = "",
    now: datetime | None = None,
) -> Campaign:
    """Move a campaign (staff or the schedule); the first move out of draft launches it: the
    audience is fixed with its holdout, and the launch message queued."""
    now = now or timezone.now()
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if to_status not in TRANSITIONS[locked.status]:
        raise CampaignStatusInvalid(
            _("A %(from)s campaign cannot become %(to)s.")
            % {"from": locked.get_status_display(), "to": S(to_status).label},
            extra={"status": locked.status, "requested": to_status},
        )
    if to_status in (S.SCHEDULED, S.ACTIVE) and locked.ends_at <= now:
        raise CampaignStatusInvalid(
            _("The campaign's window is over."), extra={"ends_at": str(locked.ends_at)}
        )
    if to_status == S.ACTIVE and locked.starts_at > now:
        to_status = S.SCHEDULED if locked.status == S.DRAFT else to_status
        if to_status == S.ACTIVE:
            raise CampaignStatusInvalid(
                _("The campaign starts on %(start)s; schedule it instead.")
                % {"start": locked.starts_at},
                extra={"starts_at": str(locked.starts_at)},
            )
    previous = locked.status
    if locked.launched_at is None and to_status in (S.SCHEDULED, S.ACTIVE):
        locked.launched_at = now
        _audience_build(locked, now)
        _launch_messages(locked)
    locked.status = to_status
    locked.save(update_fields=["status", "launched_at", "updated_at"])
    CampaignStatusChange.objects.create(
        campaign=locked,
        from_status=previous,
        to_status=to_status,
        actor=_user(actor),
        reason=reason,
    )
    campaign_stamp_bump()
    return locked


def _audience_build(campaign: Campaign, now: datetime) -> int:
    from campaigns.segments import segment_members

    ids = list(
        segment_members(campaign.segment, as_of=now)
        .filter(status=Member.Status.ACTIVE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    rows = [
        CampaignAudience(
            campaign=campaign,
            member_id=pk,
            holdout=is_holdout(
                campaign_id=campaign.pk, member_id=pk, percent=campaign.holdout_percent
            ),
        )
        for pk in ids
    ]
    CampaignAudience.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
    return len(rows)


def _launch_messages(campaign: Campaign) -> None:
    if campaign.message_template_id is None:
        return
    from campaigns.messaging import campaign_messages_queue

    transaction.on_commit(lambda: campaign_messages_queue(campaign_id=campaign.pk))


def campaign_schedule_tick(*, now: datetime | None = None) -> dict[str, int]:
    """The beat job: scheduled campaigns whose start passed become active, running or paused
    ones whose end passed become ended. Each move is audited (by: the scheduler)."""
    now = now or timezone.now()
    moved = {"activated": 0, "ended": 0}
    for campaign in Campaign.objects.filter(
        status__in=[S.SCHEDULED, S.ACTIVE, S.PAUSED], ends_at__lte=now
    ):
        campaign_status_change(
            campaign=campaign, to_status=S.ENDED, reason=_("window ended"), now=now
        )
        moved["ended"] += 1
    for campaign in Campaign.objects.filter(
        status=S.SCHEDULED, starts_at__lte=now, ends_at__gt=now
    ):
        campaign_status_change(
            campaign=campaign, to_status=S.ACTIVE, reason=_("window started"), now=now
        )
        moved["activated"] += 1
    return moved


def audience_row(*, campaign: Campaign, member_id: int) -> bool | None:
    """Whether the member is held out (None: not targeted). Campaigns without a segment take
    members who joined after launch too, by the same stable hash."""
    row = (
        CampaignAudience.objects.filter(campaign=campaign, member_id=member_id)
        .values_list("holdout", flat=True)
        .first()
    )
    if row is not None or campaign.segment_id is not None:
        return row
    holdout = is_holdout(
        campaign_id=campaign.pk, member_id=member_id, percent=campaign.holdout_percent
    )
    CampaignAudience.objects.get_or_create(
        campaign=campaign, member_id=member_id, defaults={"holdout": holdout}
    )
    return holdout


# ------------------------------------------------------------------------------------ awards
def _period_start(campaign: Campaign, moment: datetime) -> datetime:
    if campaign.cap_period == Campaign.CapPeriod.DAY:
        return moment - timedelta(days=1)
    if campaign.cap_period == Campaign.CapPeriod.WEEK:
        return moment - timedelta(days=7)
    if campaign.cap_period == Campaign.CapPeriod.MONTH:
        return moment - timedelta(days=30)
    return campaign.starts_at


def cap_reached(
    *, campaign: Campaign, member_id: int, moment: datetime, referrer: bool = False
) -> bool:
    """Rolling periods (last 1 / 7 / 30 days) or the whole campaign."""
    if not campaign.cap_count:
        return False
    since = _period_start(campaign, moment)
    if referrer:
        used = Referral.objects.filter(
            campaign=campaign,
            referrer_id=member_id,
            created_at__gte=since,
            status__in=[Referral.Status.PENDING, Referral.Status.AWARDED],
        ).count()
    else:
        used = (
            CampaignAward.objects.filter(
                campaign=campaign,
                member_id=member_id,
                created_at__gte=since,
                status=CampaignAward.Status.AWARDED,
            )
            .exclude(source__startswith="referee:")
            .count()
        )
    return used >= campaign.cap_count


@dataclass
class AwardResult:
    award: CampaignAward | None
    points: int = 0  # points credited to the member (0 for a voucher)
    cut_from: int | None = None  # the budget cut the award
    created: bool = False  # False: the same source was awarded before (nothing new)
    reasons: list[str] = field(default_factory=list)


def campaign_award(
    *,
    campaign: Campaign,
    member: Member,
    points: int,
    source: str,
    occurred_at: datetime,
    transaction_row: Transaction | None = None,
    pending: bool = False,
    detail: str = "",
    locked: Campaign | None = None,
    fresh: bool = False,
    account: PointsAccount | None = None,
) -> AwardResult:
    """Give a campaign's points once per (campaign, source), within the budget.

    Lock order: the member's account first (the purchase path holds it already), then the
    campaign row. The budget rule: an award larger than what is left is cut to what is left; when
    nothing is left nothing is given (no award row). Never more than the budget, also when
    purchases race: an award that fits whole is taken by one conditional UPDATE
    (`_budget_take`, no SELECT ... FOR UPDATE first); only one that does not fit reads the
    locked row to cut or refuse it (a CHECK constraint backs both).

    A campaign with a reward voucher (birthday, win-back) gives the voucher instead of points,
    through rewards.services.voucher_gift (no points charged, stock taken); it uses the reward's
    points cost from the budget and is never cut: when less than that is left, or the reward is
    out of stock or no longer available, nothing is given and the reason is returned."""
    with transaction.atomic(savepoint=not fresh):
        if not fresh:  # fresh: the source names a purchase inserted in this transaction, whose
            # posting holds the account lock already (`account`); no award can name it yet
            existing = CampaignAward.objects.filter(campaign=campaign, source=source).first()
            if existing is not None:
                return AwardResult(existing, 0 if existing.voucher_id else existing.points)
            account_lock_for_member(member=member)
        if fresh and points > 0 and campaign.reward_id is None and campaign.points_budget is None:
            # no budget (as cached): nothing to check; the points are added to points_awarded
            # just before the commit (hooks.campaign_counts_flush), so the campaign row is not
            # locked through the rest of the purchase's posting
            assert transaction_row is not None  # fresh: the purchase being posted
            count_later(transaction_id=transaction_row.pk, campaign_id=campaign.pk, points=points)
            return _points_award(
                campaign,
                member=member,
                points=points,
                given=points,
                source=source,
                occurred_at=occurred_at,
                transaction_row=transaction_row,
                pending=pending,
                detail=detail,
                account=account,
            )
        if points > 0 and campaign.reward_id is None and _budget_take(campaign.pk, points):
            return _points_award(
                campaign,
                member=member,
                points=points,
                given=points,
                source=source,
                occurred_at=occurred_at,
                transaction_row=transaction_row,
                pending=pending,
                detail=detail,
                account=account if fresh else None,
            )
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.reward_id is not None:
            return _voucher_award(
                locked,
                member=member,
                source=source,
                transaction_row=transaction_row,
                detail=detail,
            )
        left = locked.budget_left
        given = points if left is None else min(points, left)
        result = AwardResult(None)
        if given < points:
            result.cut_from = points
        if given <= 0:
            result.reasons.append("budget_exhausted")
            return result
        Campaign.objects.filter(pk=locked.pk).update(points_awarded=F("points_awarded") + given)
        return _points_award(
            campaign,
            member=member,
            points=points,
            given=given,
            source=source,
            occurred_at=occurred_at,
            transaction_row=transaction_row,
            pending=pending,
            detail=detail,
            account=account if fresh else None,
        )


def _budget_take(campaign_id: int, points: int) -> bool:
    """Add `points` to the campaign's points_awarded if the whole award fits in the budget (or
    there is none), in one conditional UPDATE, without reading the row first: race-safe on its
    own (PostgreSQL re-checks the WHERE on the row's latest version after waiting for a
    concurrent writer; the CHECK constraint backs it). False: it does not fit (or the campaign
    gives a voucher), and the caller takes the row lock to cut or refuse the award."""
    return bool(
        Campaign.objects.filter(pk=campaign_id, reward__isnull=True)
        .filter(Q(points_budget__isnull=True) | Q(points_budget__gte=F("points_awarded") + points))
        .update(points_awarded=F("points_awarded") + points)
    )


def _points_award(
    campaign: Campaign,
    *,
    member: Member,
    points: int,
    given: int,
    source: str,
    occurred_at: datetime,
    transaction_row: Transaction | None,
    pending: bool,
    detail: str,
    account: PointsAccount | None = None,
) -> AwardResult:
    """The ledger entry and the award row of `given` points, taken from the budget already.
    `account`: the member's account locked by the purchase being posted (a lighter posting)."""
    result = AwardResult(None)
    if given < points:
        result.cut_from = points
    earn: Any = points_earn
    if account is not None:
        earn = partial(points_earn_locked, account=account)
    entry = earn(
        member=member,
        points=given,
        kind=LedgerEntry.Kind.BONUS,
        idempotency_key=f"campaign:{campaign.pk}:{source}"[:120],
        source_type="campaign",
        source_id=str(campaign.pk),
        reason=campaign.name[:200],
        occurred_at=occurred_at,
        pending=pending,
        metadata={"campaign": campaign.pk, "source": source},
    )
    result.award = CampaignAward.objects.create(
        campaign=campaign,
        member=member,
        points=given,
        status=CampaignAward.Status.AWARDED,
        source=source,
        transaction=transaction_row,
        entry=entry,
        detail=(detail + (f" (cut from {points}: budget)" if result.cut_from else ""))[:255],
    )
    result.points, result.created = given, True
    return result


def _voucher_award(
    campaign: Campaign,
    *,
    member: Member,
    source: str,
    transaction_row: Transaction | None,
    detail: str,
) -> AwardResult:
    """The voucher path of campaign_award (the caller holds the account and campaign locks)."""
    from rewards.models import Reward
    from rewards.services import voucher_gift

    reward = Reward.objects.get(pk=campaign.reward_id or 0)  # the caller checked it is set
    cost = reward.points_cost
    result = AwardResult(None)
    left = campaign.budget_left
    if left is not None and left < cost:
        result.reasons.append("budget_exhausted")
        return result
    try:
        with transaction.atomic():  # a refused gift takes nothing, and fails no purchase
            voucher, _created = voucher_gift(
                member=member,
                reward=reward,
                gift_key=f"campaign:{campaign.pk}:{source}"[:120],
                note=campaign.name,
            )
    except ApplicationError as exc:
        result.reasons.append(exc.code)
        return result
    Campaign.objects.filter(pk=campaign.pk).update(points_awarded=F("points_awarded") + cost)
    result.award = CampaignAward.objects.create(
        campaign=campaign,
        member=member,
        points=cost,
        status=CampaignAward.Status.AWARDED,
        source=source,
        transaction=transaction_row,
        voucher=voucher,
        detail=(f"{detail}: {reward.name}" if detail else reward.name)[:255],
    )
    result.created = True
    return result


def campaign_awards_reverse_for_return(*, return_txn: Transaction) -> int:
    """A return takes back the campaign points of its purchase in the same proportion as the
    earning engine's (cumulative floor: never more than awarded). Budget is not given back."""
    from loyalty.ledger.services.posting import _Debit, _post_locked

    original = return_txn.original
    if original is None:
        return 0
    awards = list(
        CampaignAward.objects.filter(transaction=original, status=CampaignAward.Status.AWARDED)
        .exclude(entry=None)
        .select_related("entry")
    )
    if not awards:
        return 0
    returned = sum((r.amount for r in original.returns.all()), Decimal(0))
    share = min(returned / original.amount, Decimal(1))
    programme = programme_settings_get()
    locked = account_lock_for_member(member=original.member)
    taken = 0
    for award in awards:
        target = int(award.points * share)
        already = -sum(
            LedgerEntry.objects.filter(
                account=locked, source_type="campaign_return", metadata__award=award.pk
            ).values_list("amount", flat=True)
        )
        todo = target - already
        if todo <= 0:
            continue
        _post_locked(
            locked,
            amount=-todo,
            kind=LedgerEntry.Kind.REVERSAL,
            idempotency_key=f"campaign_return:{return_txn.pk}:{award.pk}",
            source_type="campaign_return",
            source_id=str(return_txn.pk),
            reason=_("return: campaign points of the purchase"),
            metadata={"award": award.pk, "campaign": award.campaign_id},
            debit=_Debit(
                include_pending=True,
                prefer_lot_ids=(award.entry.lot.pk,)
                if award.entry is not None and hasattr(award.entry, "lot")
                else (),
                shortfall=programme.return_policy,
                include_expired=True,
            ),
        )
        taken += todo
    return taken


# ----------------------------------------------------------------------------------- actions
@transaction.atomic(durable=True)
def action_record(
    *,
    member: Member,
    kind: str,
    action_id: str,
    occurred_at: datetime | None = None,
    score: int | None = None,
) -> ActionEvent:
    """Record an action (review, survey, share, ...) once per (kind, action_id) and award the
    active action campaigns for it (caps per member and period, budget). The same action again
    returns the first result; the same id for another member is a conflict."""
    occurred_at = occurred_at or timezone.now()
    if kind not in Campaign.Action.values:
        raise ValidationError({"kind": [_("Unknown action.")]})
    if kind == Campaign.Action.SURVEY and score is None:
        raise ValidationError({"score": [_("A survey answer needs the 0-10 score.")]})
    if score is not None and not 0 <= score <= 10:
        raise ValidationError({"score": [_("From 0 to 10.")]})
    if occurred_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"occurred_at": [_("Cannot be in the future.")]})
    account_lock_for_member(member=member)
    existing = ActionEvent.objects.filter(kind=kind, action_id=action_id).first()
    if existing is not None:
        if existing.member_id != member.pk:
            raise ActionConflict(extra={"action_id": action_id})
        return existing
    try:
        with transaction.atomic():
            event = ActionEvent.objects.create(
                member=member, kind=kind, action_id=action_id, occurred_at=occurred_at, score=score
            )
    except IntegrityError:  # a concurrent request recorded it first
        existing = ActionEvent.objects.get(kind=kind, action_id=action_id)
        if existing.member_id != member.pk:
            raise ActionConflict(extra={"action_id": action_id}) from None
        return existing
    if not member.is_active:
        return event
    total = 0
    campaigns = [
        c
        for c in active_campaigns(occurred_at)
        if c.mechanic == Campaign.Mechanic.ACTION and c.action == kind
    ]
    for campaign in sorted(campaigns, key=lambda c: (c.priority, c.pk)):
        holdout = audience_row(campaign=campaign, member_id=member.pk)
        if holdout is None or holdout:
            continue
        if cap_reached(campaign=campaign, member_id=member.pk, moment=occurred_at):
            continue
        result = campaign_award(
            campaign=campaign,
            member=member,
            points=_bonus_points(campaign),
            source=f"action:{event.pk}",
            occurred_at=occurred_at,
            detail=event.get_kind_display(),
        )
        total += result.points
        if campaign.stacking == Campaign.Stacking.EXCLUSIVE and result.points:
            break
    if total:
        event.points_awarded = total
        event.save(update_fields=["points_awarded", "updated_at"])
    return event


# --------------------------------------------------------------------------------- referrals
def _email_key(email: str | None) -> str:
    if not email:
        return ""
    local, _sep, domain = email.lower().partition("@")
    return f"{local.split('+')[0].replace('.', '')}@{domain}"


def referral_refusal(
    *,
    referrer: Member,
    email: str | None = None,
    phone: str | None = None,
    referee: Member | None = None,
) -> str | None:
    """Why a referral would be refused (None: acceptable). Self-referral, the same e-mail
    (ignoring dots and +tags) or phone, and circular referrals are refused."""
    if referee is not None and referee.pk == referrer.pk:
        return "self_referral"
    if not referrer.is_active:
        return "referrer_not_active"
    if email and _email_key(email) == _email_key(referrer.email):
        return "same_email"
    if phone and referrer.phone and phone == referrer.phone:
        return "same_phone"
    if referee is not None and referrer.referred_by_id == referee.pk:
        return "circular"
    return None


def referral_code_validate(
    *, code: str, email: str | None = None, phone: str | None = None
) -> Member:
    referrer = Member.objects.filter(referral_code=(code or "").strip().upper()).first()
    if referrer is None:
        raise ValidationError({"code": [_("No member has this referral code.")]})
    reason = referral_refusal(referrer=referrer, email=email, phone=phone)
    if reason:
        raise ReferralRefused(extra={"reason": reason})
    return referrer


def _bonus_points(campaign: Campaign) -> int:
    """The points an action or birthday campaign gives (its form requires them; 0 for a
    birthday campaign that gives a reward voucher instead)."""
    if campaign.bonus_points is None:
        if campaign.reward_id is not None:
            return 0
        raise ValueError(f"Campaign {campaign.pk} gives no bonus points.")
    return campaign.bonus_points


def referral_on_purchase(*, campaign: Campaign, txn: Transaction) -> Referral | None:
    """The referee's first qualifying purchase (at least the campaign's minimum spend; smaller
    purchases before it do not count): the referral waits out the return window."""
    referee = txn.member
    if referee is None:  # an anonymous purchase refers no one
        return None
    if referee.referred_by_id is None or Referral.objects.filter(referee=referee).exists():
        return None
    if campaign.min_spend and txn.amount < campaign.min_spend:
        return None
    earlier = Transaction.objects.filter(
        member=referee, kind=Transaction.Kind.PURCHASE, occurred_at__lte=txn.occurred_at
    ).exclude(pk=txn.pk)
    if campaign.min_spend:
        earlier = earlier.filter(amount__gte=campaign.min_spend)
    if earlier.exists():
        return None  # not the first qualifying purchase
    referrer = referee.referred_by
    if referrer is None:  # checked above (referred_by_id); narrows the type
        return None
    reason = referral_refusal(
        referrer=referrer, email=referee.email, phone=referee.phone, referee=referee
    )
    if reason is None and cap_reached(
        campaign=campaign, member_id=referrer.pk, moment=txn.occurred_at, referrer=True
    ):
        reason = "referrer_cap"
    programme = programme_settings_get()
    return Referral.objects.create(
        campaign=campaign,
        referrer=referrer,
        referee=referee,
        purchase=txn,
        status=Referral.Status.REFUSED if reason else Referral.Status.PENDING,
        reason=reason or "",
        release_at=txn.occurred_at + timedelta(days=programme.pending_days),
    )


def referral_void_for_return(*, return_txn: Transaction) -> int:
    if return_txn.original_id is None:
        return 0
    return Referral.objects.filter(
        purchase_id=return_txn.original_id, status=Referral.Status.PENDING
    ).update(status=Referral.Status.VOID, reason="returned", updated_at=timezone.now())


def referral_release_due(*, now: datetime | None = None) -> int:
    """Nightly: referrals whose return window passed reward both members (each in its own
    transaction; budget applies)."""
    now = now or timezone.now()
    done = 0
    for referral in Referral.objects.filter(
        status=Referral.Status.PENDING, release_at__lte=now
    ).select_related("campaign", "referrer", "referee"):
        with transaction.atomic():
            locked = Referral.objects.select_for_update().get(pk=referral.pk)
            if locked.status != Referral.Status.PENDING:
                continue
            campaign = referral.campaign
            for member, points, source in (
                (referral.referrer, campaign.bonus_points, f"referrer:{referral.pk}"),
                (referral.referee, campaign.referee_points, f"referee:{referral.pk}"),
            ):
                if points and member.is_active:
                    campaign_award(
                        campaign=campaign,
                        member=member,
                        points=points,
                        source=source,
                        occurred_at=now,
                        detail=_("referral"),
                    )
            locked.status = Referral.Status.AWARDED
            locked.save(update_fields=["status", "updated_at"])
            done += 1
    return done


# ---------------------------------------------------------------------------------- birthday
def _birthday_q(day: date) -> Q:
    """Members whose birthday falls on `day` this year (29 February: on 28 February in years
    without one)."""
    leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
    q = Q(birth_date__month=day.month, birth_date__day=day.day)
    if not leap and day.month == 2 and day.day == 28:
        q |= Q(birth_date__month=2, birth_date__day=29)
    return q


def birthday_window_days(campaign: Campaign, day: date) -> list[date]:
    """The birthdays a birthday campaign serves when the nightly job runs on `day`: that day;
    every day of its week (Monday to Sunday); or every day of its month. A member is served on
    the first run in the window (a member who joins mid-week is served the next night)."""
    if campaign.birthday_window == Campaign.BirthdayWindow.WEEK:
        monday = day - timedelta(days=day.weekday())
        return [monday + timedelta(days=n) for n in range(7)]
    if campaign.birthday_window == Campaign.BirthdayWindow.MONTH:
        first = day.replace(day=1)
        days = []
        while first.month == day.month:
            days.append(first)
            first += timedelta(days=1)
        return days
    return [day]


def birthday_awards(*, day: date | None = None) -> int:
    """Active birthday campaigns: members whose birthday falls in the campaign's window around
    `day` (the day, its week or its month, in the programme time zone; 29 February counts on
    28 February in other years) get the bonus points or the reward voucher once per campaign
    and birthday year, however often the job runs."""
    moment = timezone.now()
    day = day or moment.astimezone(ZoneInfo(programme_settings_get().time_zone)).date()
    given = 0
    for campaign in [
        c for c in active_campaigns(moment) if c.mechanic == Campaign.Mechanic.BIRTHDAY
    ]:
        for birthday in birthday_window_days(campaign, day):
            prefix = f"birthday:{birthday.year}:"
            members = Member.objects.filter(
                _birthday_q(birthday), status=Member.Status.ACTIVE, erased_at__isnull=True
            ).exclude(  # served already this year (the job re-run, or an earlier day)
                Exists(
                    CampaignAward.objects.filter(
                        campaign=campaign, member_id=OuterRef("pk"), source__startswith=prefix
                    )
                )
            )
            if campaign.segment_id:
                members = members.filter(
                    pk__in=CampaignAudience.objects.filter(campaign=campaign, holdout=False).values(
                        "member_id"
                    )
                )
            for member in members.order_by("pk").iterator():
                if audience_row(campaign=campaign, member_id=member.pk) is not False:
                    continue
                result = campaign_award(
                    campaign=campaign,
                    member=member,
                    points=_bonus_points(campaign),
                    source=f"{prefix}{member.pk}",
                    occurred_at=moment,
                    detail=_("birthday"),
                )
                if result.created:
                    given += 1
                    _birthday_message(member, campaign, result, birthday)
    return given


def _birthday_message(member: Member, campaign: Campaign, result: AwardResult, day: date) -> None:
    from loyalty.ledger.models import NotificationOutbox

    payload: dict[str, Any] = {
        "points": result.points,
        "campaign": campaign.name,
        "channel": "email",
    }
    voucher = result.award.voucher if result.award is not None else None
    if voucher is not None:
        payload.update(
            voucher=voucher.display_code,
            reward=voucher.gift_reward.name if voucher.gift_reward else "",
            expires_on=voucher.expires_at.isoformat(),
        )
    NotificationOutbox.objects.get_or_create(
        dedupe_key=f"birthday:{day.year}:{member.pk}",
        defaults={"member": member, "kind": "birthday", "payload": payload},
    )


# ------------------------------------------------------------------------------ static lists
@dataclass
class ListImportReport:
    added: int = 0
    already: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


IDENTIFIER_COLUMNS = ("member_number", "card", "email", "phone")


@transaction.atomic
def segment_list_import(*, segment: Segment, data: bytes) -> ListImportReport:
    """A CSV with one of the columns member_number (or card), email, phone. Every row must
    name a known member; any row error and nothing is imported (the report says which rows)."""
    from members.identifiers import normalize_phone  # noqa: F401  (keeps the import cheap)

    report = ListImportReport()
    if segment.kind != Segment.Kind.STATIC:
        report.errors.append((0, _("Only a static list segment takes a CSV file.")))
        return report
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.errors.append((0, _("The file is not UTF-8 text.")))
        return report
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    if not any(c in IDENTIFIER_COLUMNS for c in columns):
        report.errors.append((1, _("Add a column member_number, card, email or phone.")))
        return report
    ids: list[int] = []
    for row_no, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        member = _find_member(row)
        if member is None:
            shown = next((row[c] for c in IDENTIFIER_COLUMNS if row.get(c)), "")
            report.errors.append(
                (row_no, _("No member %(id)s.") % {"id": shown or _("(empty row)")})
            )
            continue
        ids.append(member)
    if report.errors:
        return report
    have = set(
        SegmentListMember.objects.filter(segment=segment, member_id__in=ids).values_list(
            "member_id", flat=True
        )
    )
    new = [pk for pk in dict.fromkeys(ids) if pk not in have]
    SegmentListMember.objects.bulk_create(
        [SegmentListMember(segment=segment, member_id=pk) for pk in new], batch_size=5000
    )
    report.added, report.already = len(new), len(ids) - len(new)
    return report


def _find_member(row: dict[str, str]) -> int | None:
    from members.identifiers import normalize_phone

    number = row.get("member_number") or row.get("card")
    qs = Member.objects.filter(erased_at__isnull=True)
    if number:
        return qs.filter(member_number=number).values_list("pk", flat=True).first()
    if row.get("email"):
        return qs.filter(email__iexact=row["email"]).values_list("pk", flat=True).first()
    if row.get("phone"):
        try:
            phone = normalize_phone(row["phone"])
        except Exception:
            return None
        return qs.filter(phone=phone).values_list("pk", flat=True).first()
    return None


# ------------------------------------------------------------------------------------- RFM
def rfm_scores_compute(*, as_of: datetime | None = None) -> int:
    """Nightly: recency / frequency / monetary quintiles of members with purchases in the last
    year before `as_of`, in one DELETE and one INSERT ... SELECT with NTILE(5)."""
    as_of = as_of or timezone.now()
    since = as_of - timedelta(days=365)
    sql = """
        INSERT INTO campaigns_rfmscore (member_id, recency, frequency, monetary, computed_at)
        SELECT member_id,
               NTILE(5) OVER (ORDER BY last_at, member_id),
               NTILE(5) OVER (ORDER BY n, member_id),
               NTILE(5) OVER (ORDER BY spend, member_id),
               %s
        FROM (
            SELECT member_id, MAX(occurred_at) AS last_at, COUNT(*) AS n, SUM(amount) AS spend
            FROM ledger_transaction
            WHERE kind = 'purchase' AND member_id IS NOT NULL
              AND occurred_at >= %s AND occurred_at < %s
            GROUP BY member_id
        ) AS per_member
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM campaigns_rfmscore")
        cursor.execute(sql, [as_of, since, as_of])
        scored: int = cursor.rowcount
        return scored
