from celery import shared_task

from loyalty.integrations.services import (
    SWEEP_LIMIT,
    api_request_log_prune,
    webhook_deliveries_sweep,
    webhook_delivery_send,
)


@shared_task
def webhook_delivery_send_task(delivery_id: int) -> str | None:
    """One attempt at one delivery; a row not due or already delivered is left alone."""
    delivery = webhook_delivery_send(delivery_id=delivery_id)
    return delivery.status if delivery else None


@shared_task
def webhook_deliveries_sweep_task(limit: int = SWEEP_LIMIT) -> int:
    """Re-enqueue pending deliveries that are due (retries, and rows the broker never got)."""
    return webhook_deliveries_sweep(limit=limit)


@shared_task
def api_request_log_prune_task() -> int:
    """Delete API request log rows and idempotency keys past the retention period."""
    from loyalty.core.idempotency import idempotency_record_prune

    return api_request_log_prune() + idempotency_record_prune()
