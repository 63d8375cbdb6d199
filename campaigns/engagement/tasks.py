from celery import shared_task


@shared_task
def engagement_nightly_task() -> dict:
    """Idempotent: recomputes streaks and stages, awards only badges not held yet, picks a
    month's VIP once. Safe to re-run."""
    from campaigns.engagement.services import engagement_nightly

    result = engagement_nightly()
    return {
        "streaks": result.streaks,
        "stages_changed": result.stages_changed,
        "badges_awarded": result.badges_awarded,
        "stage_counts": result.stage_counts,
        "vip_member_id": result.vip.member_id if result.vip else None,
    }
