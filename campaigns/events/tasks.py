from celery import shared_task


@shared_task
def events_finish_task() -> int:
    """Marks published events that have ended as finished. Idempotent."""
    from campaigns.events.services import events_finish_past

    return events_finish_past()
