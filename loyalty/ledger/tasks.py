from celery import shared_task
from django.utils import timezone

from loyalty.ledger.services import (
    ledger_reconcile,
    points_expire_due,
    points_expiry_warn,
    points_release_pending,
)


@shared_task
def points_expire_due_task(batch: int | None = None) -> int:
    """Idempotent; safe to re-run or run twice. `batch` (accounts per transaction) lets an
    operator run smaller transactions; None is the job's default."""
    return points_expire_due(as_of=timezone.now(), batch=batch)


@shared_task
def points_release_pending_task() -> int:
    return points_release_pending(as_of=timezone.now())


@shared_task
def points_expiry_warn_task() -> int:
    return points_expiry_warn(as_of=timezone.now())


@shared_task
def ledger_reconcile_task() -> int:
    """Returns the number of mismatching accounts (logged); never fixes them."""
    import logging

    mismatches = ledger_reconcile()
    for mismatch in mismatches:
        logging.getLogger(__name__).error("ledger mismatch: %s", mismatch)
    return len(mismatches)


@shared_task
def points_expiry_run_task(run_id: int) -> str:
    """An "expire all" started in the admin; safe to re-run (returns the run's status)."""
    from loyalty.ledger.services.expire_all import points_expiry_run_execute

    return points_expiry_run_execute(run_id=run_id).status


@shared_task
def purchase_stats_rebuild_task() -> int:
    """Nightly repair of the segments' read model (loyalty/ledger/stats.py)."""
    from loyalty.ledger.stats import purchase_stats_refresh

    return purchase_stats_refresh()
