from celery import shared_task

from loyalty.tiers.services import tier_period_end_evaluate


@shared_task
def tier_period_end_evaluate_task() -> dict:
    """Idempotent: judges each member once per period end; safe to re-run or run twice."""
    result = tier_period_end_evaluate()
    return {
        "as_of": result.as_of.isoformat(),
        "entry_assigned": result.entry_assigned,
        "judged": result.judged,
        "kept": result.kept,
        "grace_started": result.grace_started,
        "grace_cancelled": result.grace_cancelled,
        "downgraded": result.downgraded,
    }
