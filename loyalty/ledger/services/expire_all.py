"""Taking every live point away through ledger entries: a programme-wide "expire all / reset"
(PointsExpiryRun, run by a Celery task with progress) and the forfeit of a member's points when
the member is closed or erased (members' close and erase hooks). Nothing silently disappears:
each account gets one EXPIRE entry that consumes exactly the lots concerned, so the liability
drops by what the entries say, and reconcile still proves balance = entries = lots.
"""

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.core.exceptions import Conflict
from loyalty.core.queue import task_delay
from loyalty.ledger.locks import lock_account
from loyalty.ledger.models import LedgerEntry, PointsAccount, PointsExpiryRun, PointsLot
from loyalty.ledger.policy import local_date, programme_settings_get
from loyalty.ledger.selectors import points_expire_all_preview
from loyalty.ledger.services.posting import _Debit, _post_locked, points_event_publish

BATCH = 200  # accounts between two progress updates


def expiry_cutoff(as_of_date: date) -> datetime:
    """The first instant after `as_of_date` in the programme's time zone."""
    zone = ZoneInfo(programme_settings_get().time_zone)
    return datetime.combine(as_of_date + timedelta(days=1), time.min, tzinfo=zone)


def _forfeit_locked(
    locked: PointsAccount,
    *,
    reason: str,
    source_type: str,
    source_id: str,
    key: str,
    actor: Any,
    cutoff: datetime | None,
) -> LedgerEntry | None:
    lots = PointsLot.objects.filter(account=locked, remaining__gt=0)
    if cutoff is not None:
        lots = lots.filter(entry__effective_at__lt=cutoff)
    chosen = dict(lots.values_list("pk", "remaining"))
    points = sum(chosen.values())
    if not points:
        return None
    entry = _post_locked(
        locked,
        amount=-points,
        kind=LedgerEntry.Kind.EXPIRE,
        idempotency_key=key,
        source_type=source_type,
        source_id=source_id,
        actor=actor,
        reason=reason,
        # exactly these lots (pending or past expiry too): they come first and cover the amount
        debit=_Debit(include_pending=True, prefer_lot_ids=tuple(chosen), include_expired=True),
    )
    member = locked.member
    points_event_publish(
        "points.expired",
        member=member,
        points=points,
        balance=locked.balance,
        occurred_at=entry.effective_at if entry else timezone.now(),
    )
    return entry


@transaction.atomic
def points_forfeit_member(
    *, member: Any, reason: str, source_type: str, actor: Any = None
) -> LedgerEntry | None:
    """Expire every live point of a member (pending and past-due lots too): closing or erasing
    the member. One EXPIRE entry; None when nothing was left. Safe to call twice."""
    account = PointsAccount.objects.filter(member_id=member.pk).first()
    if account is None:
        return None
    locked = lock_account(account.pk)
    last = LedgerEntry.objects.filter(account=locked).order_by("-pk").values_list("pk", flat=True)
    return _forfeit_locked(
        locked,
        reason=reason,
        source_type=source_type,
        source_id=str(member.pk),
        key=f"forfeit:{source_type}:{last.first() or 0}",
        actor=actor,
        cutoff=None,
    )


def member_closed_points_forfeit(*, member: Any, actor: Any = None, reason: str = "") -> None:
    """members.hooks close hook: a closed member's points leave the liability."""
    points_forfeit_member(
        member=member,
        reason=_("member closed: %(reason)s") % {"reason": reason}
        if reason
        else _("member closed"),
        source_type="member_closed",
        actor=actor,
    )


def member_erased_points_forfeit(*, member: Any, actor: Any = None) -> None:
    """members.hooks erase hook: an erased member's points leave the liability."""
    points_forfeit_member(
        member=member, reason=_("member erased"), source_type="member_erased", actor=actor
    )


@transaction.atomic
def points_expiry_run_create(*, as_of_date: date, reason: str, actor: Any) -> PointsExpiryRun:
    """Record an "expire all" with its preview; nothing is expired until it is started."""
    errors = {}
    if not reason or not reason.strip():
        errors["reason"] = [_("Say why every point is expired, e.g. 'Programme relaunch 2027'.")]
    programme = programme_settings_get()
    if as_of_date and as_of_date > local_date(programme, timezone.now()):
        errors["as_of_date"] = [_("Choose today or a day in the past.")]
    if errors:
        raise ValidationError(errors)
    preview = points_expire_all_preview(cutoff=expiry_cutoff(as_of_date))
    run = PointsExpiryRun(
        as_of_date=as_of_date,
        reason=reason.strip(),
        preview_members=preview.members,
        preview_points=preview.points,
        preview_liability=preview.liability,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    run.full_clean()
    run.save()
    return run


@transaction.atomic
def points_expiry_run_start(*, run: PointsExpiryRun, actor: Any) -> PointsExpiryRun:
    """Queue a previewed run for the worker (after commit)."""
    run = PointsExpiryRun.objects.select_for_update().get(pk=run.pk)
    if run.status != PointsExpiryRun.Status.PREVIEWED:
        raise Conflict(
            _("This expiry run was already started (%(status)s).")
            % {"status": run.get_status_display()},
            extra={"run": run.pk, "status": run.status},
        )
    run.status = PointsExpiryRun.Status.QUEUED
    run.started_by = actor if getattr(actor, "is_authenticated", False) else None
    run.started_at = timezone.now()
    run.save(update_fields=["status", "started_by", "started_at", "updated_at"])
    transaction.on_commit(lambda: task_delay("loyalty.ledger.tasks.points_expiry_run_task", run.pk))
    return run


def points_expiry_run_execute(*, run_id: int, batch: int = BATCH) -> PointsExpiryRun:
    """The worker's part: expire, account by account (one transaction each, so a failure keeps
    what was done), with the progress saved after every batch. Safe to re-run: an account
    already done has nothing left before the cutoff (its key is expire-all:<run>)."""
    claimed = PointsExpiryRun.objects.filter(
        pk=run_id, status__in=[PointsExpiryRun.Status.QUEUED, PointsExpiryRun.Status.RUNNING]
    ).update(status=PointsExpiryRun.Status.RUNNING, updated_at=timezone.now())
    run = PointsExpiryRun.objects.get(pk=run_id)
    if not claimed:
        return run  # done, failed or never started
    cutoff = expiry_cutoff(run.as_of_date)
    actor = run.started_by
    last = 0
    try:
        while True:
            ids = list(
                PointsLot.objects.filter(
                    remaining__gt=0, entry__effective_at__lt=cutoff, account_id__gt=last
                )
                .order_by("account_id")
                .values_list("account_id", flat=True)
                .distinct()[:batch]
            )
            if not ids:
                break
            members = points = 0
            for account_id in ids:
                with transaction.atomic():
                    entry = _forfeit_locked(
                        lock_account(account_id),
                        reason=run.reason,
                        source_type="expiry_run",
                        source_id=str(run.pk),
                        key=f"expire-all:{run.pk}",
                        actor=actor,
                        cutoff=cutoff,
                    )
                if entry is not None:
                    members += 1
                    points -= entry.amount
            last = ids[-1]
            PointsExpiryRun.objects.filter(pk=run.pk).update(
                members_done=F("members_done") + members,
                points_expired=F("points_expired") + points,
                updated_at=timezone.now(),
            )
    except Exception as exc:
        PointsExpiryRun.objects.filter(pk=run.pk).update(
            status=PointsExpiryRun.Status.FAILED, error=repr(exc)[:2000], updated_at=timezone.now()
        )
        raise
    run.refresh_from_db()
    run.status = PointsExpiryRun.Status.DONE
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at", "updated_at"])  # a history row: the audit
    return run
