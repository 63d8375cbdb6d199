"""Domain events: apps publish what happened, subscribers (the webhook outbox) record it.

Every app may publish (core sits at the bottom of the import chain); the integrations app
subscribes (webhooks), and campaigns subscribes to tier.changed (the member's message). Transactional outbox: a subscriber is called at once, inside the publisher's
transaction, and writes its outbox rows there. So the change and its event commit together or
not at all: a rolled-back write never announces itself, and a process killed right after the
commit has already stored the event (the sweep sends it). A subscriber hands the sending to a
worker with `transaction.on_commit`; it must not do slow or remote work itself. A subscriber's
error is the publisher's error (the change is not committed without its event).
"""

from collections.abc import Callable
from typing import Any

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
    """Register fn(event_type, payload); called once per published event, in the publisher's
    transaction.

    `many(event_type, payloads)`, if given, receives the events of one publish_many call at
    once (a nightly job or an import announces thousands), and must do what fn would do for
    each, in bulk (one outbox insert for the batch)."""
    if fn not in _subscribers:
        _subscribers.append(fn)
    if many is not None:
        _batch[fn] = many
    return fn


def _check(event_type: str) -> None:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}; add it to EVENT_TYPES.")


def publish(event_type: str, payload: dict[str, Any]) -> None:
    """Record an event in the current transaction (its own statement outside one)."""
    _check(event_type)
    for fn in list(_subscribers):
        fn(event_type, payload)


def publish_many(event_type: str, payloads: list[dict[str, Any]]) -> None:
    """publish() for each payload, recorded together: a subscriber with a batch handler is
    called once (one lookup of who listens and one insert, not one per event)."""
    _check(event_type)
    if not payloads:
        return
    payloads = list(payloads)
    for fn in list(_subscribers):
        many = _batch.get(fn)
        if many is not None:
            many(event_type, payloads)
        else:
            for payload in payloads:
                fn(event_type, payload)
