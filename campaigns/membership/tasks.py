from celery import shared_task


@shared_task
def club_daily_task() -> dict:
    """Lapse memberships past their grace period, queue renewal reminders (safe to re-run)."""
    from campaigns.membership.services import club_daily

    return club_daily()
