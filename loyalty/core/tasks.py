from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone


@shared_task
def ping_task() -> str:
    """Round trip through the broker; used to prove a worker is consuming."""
    return "pong"


@shared_task
def sessions_clear_expired_task() -> int:
    """Delete expired admin and clerk sessions (shared till devices leave many behind)."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
