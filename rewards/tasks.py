from celery import shared_task
from django.utils import timezone

from rewards.services import (
    reward_low_stock_alert,
    reward_low_stock_alerts_sweep,
    vouchers_expire_due,
)


@shared_task
def vouchers_expire_due_task() -> int:
    return vouchers_expire_due(as_of=timezone.now())  # idempotent: re-running expires nothing twice


@shared_task
def reward_low_stock_alert_task(reward_id: int) -> bool:
    return reward_low_stock_alert(reward_id=reward_id)


@shared_task
def reward_low_stock_alerts_sweep_task() -> int:
    """Send the low-stock alerts the broker never got (or whose mail failed); once each."""
    return reward_low_stock_alerts_sweep()
