"""Writes of the integrations app: API clients and their keys, the request log, webhooks."""

import hashlib
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Field, Model, Q
from django.utils import timezone

from loyalty.core import config_cache
from loyalty.core.queue import task_delay
from loyalty.integrations.exceptions import ApiClientRevoked
from loyalty.integrations.models import (
    DEFAULT_RATE_PER_MINUTE,
    ApiClient,
    ApiRequestLog,
    WebhookDelivery,
    WebhookSubscription,
)
from loyalty.integrations.signing import signature_make

logger = logging.getLogger(__name__)

KEY_PREFIX = "lk_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Seconds to wait after attempt n (1-based) before attempt n+1; after the last one: failed.
WEBHOOK_BACKOFF = (60, 300, 1800, 7200, 21600)
WEBHOOK_MAX_ATTEMPTS = len(WEBHOOK_BACKOFF) + 1
WEBHOOK_TIMEOUT = (5, 10)  # connect, read (seconds)
# While one send is in flight the row is pushed this far ahead, so a sweep does not send it too.
WEBHOOK_LEASE = timedelta(seconds=60)
REQUEST_LOG_RETENTION_DAYS = 30
SWEEP_LIMIT = 500


# ------------------------------------------------------------------------------------ keys


def key_hash(key: str) -> str:
    """sha256 of the whole key: keys carry 256 random bits, so a fast hash is enough."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_split(key: str) -> str | None:
    """The prefix of a well-formed key (lk_<8 hex>_<secret>), else None."""
    if not key.startswith(KEY_PREFIX) or len(key) < len(KEY_PREFIX) + 9 + 32:
        return None
    prefix, sep = key[3:11], key[11]
    if sep != "_" or any(c not in "0123456789abcdef" for c in prefix):
        return None
    return prefix


@dataclass
class CreatedClient:
    client: ApiClient
    key: str  # the only time the key exists in clear


@transaction.atomic
def api_client_create(
    *,
    name: str,
    scopes: list[str],
    store: Any = None,
    channel: str = "",
    rate_limit_per_minute: int = DEFAULT_RATE_PER_MINUTE,
    notes: str = "",
    expires_at: datetime | None = None,
) -> CreatedClient:
    """A new client with a fresh key, returned once in clear (only its hash is kept) and a
    service user its writes are attributed to (inactive, no password: it cannot log in).
    Raises ValidationError on unknown scopes or channel."""
    prefix, key = _key_new()
    client = ApiClient(
        name=name.strip(),
        prefix=prefix,
        key_hash=key_hash(key),
        scopes=sorted(set(scopes)),
        store=store,
        channel=channel,
        rate_limit_per_minute=rate_limit_per_minute,
        notes=notes,
        expires_at=expires_at,
    )
    client.full_clean(exclude=["user"])
    user_model = get_user_model()
    user = user_model.objects.create_user(username=f"api-client-{prefix}", is_active=False)
    user.first_name = name.strip()[:150]
    user.save(update_fields=["first_name"])
    client.user = user
    client.save()
    return CreatedClient(client=client, key=key)


def _key_new() -> tuple[str, str]:
    """A fresh (prefix, key) whose prefix no client uses, as its key or its replaced key."""
    while True:
        prefix = secrets.token_hex(4)
        taken = ApiClient.objects.filter(Q(prefix=prefix) | Q(previous_prefix=prefix)).exists()
        if not taken:
            return prefix, f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"


DEFAULT_ROTATION_OVERLAP = timedelta(hours=24)


@transaction.atomic
def api_client_rotate(
    *, client: ApiClient, old_key_valid_for: timedelta = DEFAULT_ROTATION_OVERLAP
) -> CreatedClient:
    """Issue a new key for `client`; the current key keeps working for `old_key_valid_for`
    (time to deploy the new one), then answers 401 api_key_rotated. A key replaced by an
    earlier rotation stops at once. Returns the new key in clear, once. Raises
    ApiClientRevoked for a revoked client."""
    locked = ApiClient.objects.select_for_update().get(pk=client.pk)
    if locked.revoked_at is not None:
        raise ApiClientRevoked(extra={"client": locked.prefix})
    if old_key_valid_for < timedelta(0):
        raise ValueError("old_key_valid_for cannot be negative")
    prefix, key = _key_new()
    now = timezone.now()
    locked.previous_prefix = locked.prefix
    locked.previous_key_hash = locked.key_hash
    locked.previous_key_valid_until = now + old_key_valid_for
    locked.prefix = prefix
    locked.key_hash = key_hash(key)
    locked.save(
        update_fields=[
            "previous_prefix",
            "previous_key_hash",
            "previous_key_valid_until",
            "prefix",
            "key_hash",
            "updated_at",
        ]
    )
    return CreatedClient(client=locked, key=key)


@transaction.atomic
def api_client_revoke(*, client: ApiClient) -> ApiClient:
    """Revoke at once: the next request with the key gets 401. Raises ApiClientRevoked."""
    updated = ApiClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), updated_at=timezone.now()
    )
    if not updated:
        raise ApiClientRevoked(extra={"client": client.prefix})
    config_cache.stamp_bump()  # an UPDATE sends no signal: every process drops the cached key
    client.refresh_from_db()
    return client


def api_client_touch(*, client: ApiClient, now: datetime) -> None:
    """Record use at most once a minute per key (a conditional UPDATE, no read)."""
    if client.last_used_at is not None and now - client.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiClient.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION),
        pk=client.pk,
    ).update(last_used_at=now)
    client.last_used_at = now


def _column(model: type[Model], name: str) -> str:
    """The database column of a concrete field of `model`."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise TypeError(f"{model.__name__}.{name} is not a concrete field with a column.")
    return field.column


def api_request_log_write(
    *, client_id: int, method: str, route: str, path: str, status_code: int, latency_ms: int
) -> None:
    """One INSERT per keyed request (the earn endpoint is benchmarked: nothing more).

    On PostgreSQL, as its own transaction, the row is one statement that commits without waiting
    for its WAL flush (synchronous_commit off for that statement's transaction, set inside it by
    set_config(..., true)): a crash may lose the log rows of its last moment, but a read such as
    the clerk lookup no longer waits for a disk flush, its only write, and pays one round trip
    instead of four (BEGIN, SET LOCAL, INSERT, COMMIT). Purchases are committed before this, in
    their own transaction, and stay fully synchronous. Inside a caller's transaction the setting
    would apply to the caller's writes too, so there it is a plain INSERT."""
    values: dict[str, Any] = {
        "client_id": client_id,
        "method": method[:8],
        "route": route[:200],
        "path": path[:255],
        "status_code": status_code,
        "latency_ms": max(0, latency_ms),
        "created_at": timezone.now(),
    }
    if connection.in_atomic_block or connection.vendor != "postgresql":
        ApiRequestLog.objects.create(**values)
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(ApiRequestLog, name)) for name in values)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(ApiRequestLog._meta.db_table)} ({columns}) "
            f"SELECT {', '.join(['%s'] * len(values))} "
            "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous_commit",
            list(values.values()),
        )


def api_request_log_prune(*, days: int = REQUEST_LOG_RETENTION_DAYS, batch: int = 10_000) -> int:
    """Delete log rows older than `days`, in batches so no statement holds locks for long."""
    cutoff = timezone.now() - timedelta(days=days)
    total = 0
    while True:
        ids = list(
            ApiRequestLog.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return total
        total += ApiRequestLog.objects.filter(pk__in=ids).delete()[0]


# -------------------------------------------------------------------------------- webhooks


@dataclass
class CreatedSubscription:
    subscription: WebhookSubscription
    secret: str  # shown once in the admin; kept so deliveries can be signed


@transaction.atomic
def webhook_subscription_create(
    *, client: ApiClient, target_url: str, event_types: list[str], active: bool = True
) -> CreatedSubscription:
    """A subscription with a fresh signing secret. Raises ValidationError on a bad URL/events."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    subscription = WebhookSubscription(
        client=client,
        target_url=target_url,
        event_types=list(dict.fromkeys(event_types)),
        secret=secret,
        active=active,
    )
    subscription.full_clean()
    subscription.save()
    return CreatedSubscription(subscription=subscription, secret=secret)


def _subscriptions_fresh() -> list[tuple[int, list[str]]]:
    return [
        (pk, list(types or []))
        for pk, types in WebhookSubscription.objects.filter(
            active=True, client__revoked_at__isnull=True
        ).values_list("pk", "event_types")
    ]


def _clients_fresh() -> dict[str, ApiClient]:
    return {}  # filled key by key by api_client_by_prefix


config_cache.register(
    "integrations.subscriptions", _subscriptions_fresh, models=[WebhookSubscription, ApiClient]
)
# the client's store: members/apps.py watches Store (integrations sits below members)
config_cache.register("integrations.clients", _clients_fresh, models=[ApiClient])
CLIENTS_CACHED = 1000  # per thread; past it the cache starts again (keys are few)


def api_client_by_prefix(prefix: str) -> ApiClient | None:
    """The client whose current or previous key has `prefix`, with its user and store, from
    this process's cache (loyalty/core/config_cache.py: a revoked or rotated key stops within
    a second on every process). Unknown prefixes are not cached."""
    clients: dict[str, ApiClient] = config_cache.cached("integrations.clients")
    client = clients.get(prefix)
    if client is None:
        client = (
            ApiClient.objects.select_related("user", "store")
            .filter(Q(prefix=prefix) | Q(previous_prefix=prefix))
            .first()
        )
        if client is not None and config_cache.enabled():
            if len(clients) >= CLIENTS_CACHED:
                clients.clear()
            clients[prefix] = client
    return client


def _subscription_ids(event_type: str) -> list[int]:
    """The active subscriptions to `event_type` (this process's cache)."""
    return [
        pk for pk, types in config_cache.cached("integrations.subscriptions") if event_type in types
    ]


# Above this many rows one sweep task is queued after the commit instead of one task per row:
# an import or the nightly expiry must not hold its request or job on thousands of submissions.
ENQUEUE_EACH_UP_TO = 50


def webhook_event_record(
    event_type: str, payload: dict[str, Any], *, subscription_ids: list[int] | None = None
) -> list[int]:
    """The events subscriber: one delivery row per active subscription to `event_type`, written
    in the caller's transaction (the transactional outbox), then sent by a Celery task queued
    after the commit. If the process dies after the commit, or the broker is down, the periodic
    sweep sends the rows later."""
    return webhook_events_record(event_type, [payload], subscription_ids=subscription_ids)


def webhook_events_record(
    event_type: str, payloads: list[dict[str, Any]], *, subscription_ids: list[int] | None = None
) -> list[int]:
    """The same for many events of one type: one lookup of the subscriptions and one bulk
    insert for them all (each event its own id)."""
    if subscription_ids is None:
        subscription_ids = _subscription_ids(event_type)
    if not subscription_ids or not payloads:
        return []
    now = timezone.now()
    rows = []
    event_ids = []
    for payload in payloads:
        event_id = uuid.uuid4()
        event_ids.append(event_id)
        data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
        rows += [
            WebhookDelivery(
                subscription_id=pk,
                event_id=event_id,
                event_type=event_type,
                payload=data,
                next_attempt_at=now,
            )
            for pk in subscription_ids
        ]
    with transaction.atomic():
        created = WebhookDelivery.objects.bulk_create(rows, batch_size=2000)
    ids = [row.pk for row in created]
    if None in ids:
        ids = list(
            WebhookDelivery.objects.filter(event_id__in=event_ids).values_list("pk", flat=True)
        )
    transaction.on_commit(lambda: _enqueue_after_commit(ids))
    return ids


def _enqueue_after_commit(ids: list[int]) -> None:
    if len(ids) > ENQUEUE_EACH_UP_TO:
        webhook_deliveries_sweep_enqueue(limit=len(ids))
        return
    for pk in ids:
        webhook_delivery_enqueue(delivery_id=pk)


def webhook_event_subscriber(event_type: str, payload: dict[str, Any]) -> None:
    """What loyalty.core.events calls in the publisher's transaction (IntegrationsConfig.ready)."""
    webhook_event_record(event_type, payload)


def webhook_event_subscriber_many(event_type: str, payloads: list[dict[str, Any]]) -> None:
    """The same for events.publish_many (the nightly expiry's thousands of points.expired, an
    import's enrolments): the subscriptions are looked up once, the rows inserted in bulk, and
    with none listening nothing more is done."""
    webhook_events_record(event_type, payloads)


def webhook_deliveries_sweep_enqueue(*, limit: int) -> bool:
    """Queue one sweep (a big batch of new rows); on a broker failure the periodic sweep will."""
    try:
        task_delay("loyalty.integrations.tasks.webhook_deliveries_sweep_task", limit=limit)
    except Exception:
        logger.exception("could not enqueue a webhook sweep; the periodic sweep will")
        return False
    return True


def webhook_delivery_enqueue(*, delivery_id: int) -> bool:
    """Hand a delivery to Celery; a broker failure is logged, the sweep retries it later."""
    try:
        task_delay("loyalty.integrations.tasks.webhook_delivery_send_task", delivery_id)
    except Exception:
        # an error, not a warning: the broker being down needs someone's attention
        logger.exception("could not enqueue webhook delivery %s; the sweep will", delivery_id)
        return False
    return True


def webhook_body(delivery: WebhookDelivery) -> bytes:
    """The JSON body: the same bytes on every attempt of one delivery."""
    document = {
        "id": str(delivery.event_id),
        "type": delivery.event_type,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def webhook_delivery_send(*, delivery_id: int) -> WebhookDelivery | None:
    """One attempt: claim the row (pending and due), POST the signed event, record the outcome.

    Returns None when the row is not due or not pending (delivered rows are never sent again;
    a row another worker is sending is leased). 2xx marks it delivered; anything else (status,
    timeout, refused connection) schedules the next attempt after WEBHOOK_BACKOFF, and after
    WEBHOOK_MAX_ATTEMPTS marks it failed."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(next_attempt_at=now + WEBHOOK_LEASE, attempts=F("attempts") + 1, updated_at=now)
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("subscription__client").get(pk=delivery_id)
    subscription = delivery.subscription
    status_code: int | None = None
    if not subscription.active or subscription.client.is_revoked:
        ok, error = False, "subscription inactive or client revoked"
        delivery.attempts = WEBHOOK_MAX_ATTEMPTS  # nobody should receive it any more
    else:
        body = webhook_body(delivery)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "loyalty-webhooks/1",
            "X-Loyalty-Event": delivery.event_type,
            "X-Loyalty-Delivery": str(delivery.pk),
            "X-Loyalty-Timestamp": timestamp,
            "X-Loyalty-Signature": signature_make(
                secret=subscription.secret, timestamp=timestamp, body=body
            ),
        }
        try:
            response = requests.post(
                subscription.target_url,
                data=body,
                headers=headers,
                timeout=WEBHOOK_TIMEOUT,
                allow_redirects=False,
            )
            status_code = response.status_code
            ok = 200 <= status_code < 300
            error = "" if ok else f"HTTP {status_code}: {response.text[:200]}"
        except requests.RequestException as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"[:500]
    finished = timezone.now()
    fields: dict[str, Any] = {
        "last_status_code": status_code,
        "last_error": error[:500],
        "updated_at": finished,
    }
    if ok:
        fields.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=finished)
        fields["next_attempt_at"] = None
    elif delivery.attempts >= WEBHOOK_MAX_ATTEMPTS:
        fields.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
    else:
        wait = WEBHOOK_BACKOFF[delivery.attempts - 1]
        fields["next_attempt_at"] = finished + timedelta(seconds=wait)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    delivery.refresh_from_db()
    return delivery


def webhook_deliveries_sweep(*, limit: int = SWEEP_LIMIT) -> int:
    """Enqueue pending deliveries that are due (the first try never reached a worker, or a
    retry's time has come). Safe to run often and concurrently: the send claims each row."""
    due = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for pk in due:
        if not webhook_delivery_enqueue(delivery_id=pk):
            break  # the broker is down: the next sweep tries again
        sent += 1
    return sent


@transaction.atomic
def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Staff ask for another send (the admin action), delivered or failed alike: the row goes
    back to pending with a fresh set of attempts. Same event id, so a receiver that already
    has the event can recognise it."""
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING,
        attempts=0,
        next_attempt_at=now,
        delivered_at=None,
        updated_at=now,
    )
    transaction.on_commit(lambda: webhook_delivery_enqueue(delivery_id=delivery.pk))
    delivery.refresh_from_db()
    return delivery
