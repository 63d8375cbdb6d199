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
BatchSubscriber = Callable[[str, list[dict[str, Any]]], None]
_subscribers: list[Subscriber] = []
_batch: dict[Subscriber, BatchSubscriber] = {}


def subscribe(fn: Subscriber, *, many: BatchSubscriber | None = None) -> Subscriber:
    """Register fn(event_type, payload); called once per published event, after commit.

    `many(event_type, payloads)`, if given, receives the events of one publish_many call at
    once (a nightly job announces thousands), and must do what fn would do for each."""
    if fn not in _subscribers:
        _subscribers.append(fn)
    if many is not None:
        _batch[fn] = many
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


def publish_many(event_type: str, payloads: list[dict[str, Any]]) -> None:
    """publish() for each payload, delivered together after commit: a subscriber with a batch
    handler is called once (one lookup of who listens, not one per event)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}; add it to EVENT_TYPES.")
    if not payloads:
        return
    payloads = list(payloads)

    def deliver() -> None:
        for fn in list(_subscribers):
            many = _batch.get(fn)
            if many is not None:
                _call(fn, event_type, lambda many=many: many(event_type, payloads))
                continue
            for payload in payloads:
                _call(fn, event_type, lambda fn=fn, payload=payload: fn(event_type, payload))

    transaction.on_commit(deliver)


def _call(fn: Subscriber, event_type: str, call: Callable[[], None]) -> None:
    try:
        call()
    except Exception:  # a subscriber must not break the caller's request
        logger.exception("event subscriber %r failed for %s", fn, event_type)
