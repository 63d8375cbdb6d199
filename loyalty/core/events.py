"""Domain events: apps publish what happened, subscribers (webhooks) react after commit.

Every app may publish (core sits at the bottom of the import chain); only the integrations app
subscribes. Subscribers run in `transaction.on_commit`, so a rolled-back write never announces
itself, and a subscriber's failure never undoes the write that published the event.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

EVENT_TYPES: tuple[str, ...] = (
    "member.enrolled",
    "member.updated",
    "points.earned",
    "points.redeemed",
    "points.expired",
    "tier.changed",
    "voucher.issued",
    "voucher.consumed",
    "campaign.started",
)

Subscriber = Callable[[str, dict[str, Any]], None]
_subscribers: list[Subscriber] = []


def subscribe(fn: Subscriber) -> Subscriber:
    """Register fn(event_type, payload); called once per published event, after commit."""
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def publish(event_type: str, payload: dict[str, Any]) -> None:
    """Announce an event once the surrounding transaction commits (at once outside one)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}; add it to EVENT_TYPES.")

    def deliver() -> None:
        for fn in list(_subscribers):
            try:
                fn(event_type, payload)
            except Exception:  # a subscriber must not break the caller's request
                logger.exception("event subscriber %r failed for %s", fn, event_type)

    transaction.on_commit(deliver)
