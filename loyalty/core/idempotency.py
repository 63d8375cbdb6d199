"""One idempotency rule for every write of the API (docs/api.md, "Idempotency").

A write (POST, PUT, PATCH, DELETE) sent with an `Idempotency-Key` header (or, where a view
names one, a key field in its body) is bound to that key:

- the key belongs to the caller (an API client's service user, or a staff user);
- it is bound to a fingerprint of the request: method, path, query and body (canonical JSON,
  so key order and spacing do not matter);
- the same key with the same request replays the first answer and changes nothing
  (`Idempotent-Replayed: true`; an answer with a `created` flag says `created: false` with 200,
  as a replay by external id does);
- the same key with a different request is refused: 409 `idempotency_key_reused`;
- while the first request runs, a second one with its key gets 409
  `idempotency_request_in_progress`;
- a refused request (any 4xx) changed nothing and does not keep its key.

The record is claimed in its own short transaction before the view runs and completed after:
the services keep their own keys (external ids, ledger keys, redemption keys), so a first
attempt that died between its commit and the record's completion is safe to run again once
`IN_PROGRESS_GRACE` has passed.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty.core.exceptions import IdempotencyKeyReused, IdempotencyRequestInProgress
from loyalty.core.models import IdempotencyRecord

IN_PROGRESS_GRACE = timedelta(minutes=1)
RETENTION_DAYS = 30
REPLAY_HEADER = "Idempotent-Replayed"
MAX_HEADER_LENGTH = 64


def request_fingerprint(request: Request) -> str:
    data = request.data
    body = {k: data.getlist(k) for k in data} if hasattr(data, "getlist") else data
    query = {k: request.query_params.getlist(k) for k in request.query_params}
    canonical = json.dumps(
        {"method": request.method, "path": request.path, "query": query, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        cls=DjangoJSONEncoder,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claim(*, request: Request, key: str, fingerprint: str) -> tuple[IdempotencyRecord, bool]:
    user = request.user
    if not user.is_authenticated:  # the view's permissions let no anonymous write reach here
        raise exceptions.NotAuthenticated()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=user,
                key=key,
                method=request.method or "",
                path=request.path[:255],
                fingerprint=fingerprint,
            )
        return record, True
    except IntegrityError:
        return IdempotencyRecord.objects.get(user=user, key=key), False


def _replay(record: IdempotencyRecord) -> Response:
    body = record.response_body
    status_code = record.status_code or 200
    if status_code == 201 and isinstance(body, dict) and body.get("created") is True:
        body, status_code = {**body, "created": False}, 200
    return Response(body, status=status_code, headers={REPLAY_HEADER: "true"})


def idempotent_call(*, request: Request, key: str, handler: Callable[[], Response]) -> Response:
    """Run `handler` once per (caller, key); see the module docstring for the rule."""
    fingerprint = request_fingerprint(request)
    record, claimed = _claim(request=request, key=key, fingerprint=fingerprint)
    if not claimed:
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                extra={
                    "idempotency_key": key,
                    "first_request": {
                        "method": record.method,
                        "path": record.path,
                        "at": record.created_at.isoformat(),
                    },
                }
            )
        if record.status_code is not None:
            return _replay(record)
        if record.created_at > timezone.now() - IN_PROGRESS_GRACE:
            raise IdempotencyRequestInProgress(extra={"idempotency_key": key})
        # the first attempt died before recording its answer: run again (the services' own
        # keys keep its effects single)
    try:
        response = handler()
    except BaseException:
        IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()
        raise
    rendered = JSONRenderer().render(response.data) if response.data is not None else b"null"
    # a NUL character cannot be stored (PostgreSQL text and jsonb): such an answer is not kept
    if 200 <= response.status_code < 300 and b"\\u0000" not in rendered:
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            status_code=response.status_code,
            response_body=json.loads(rendered),
            updated_at=timezone.now(),
        )
    else:
        IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()
    return response


def idempotency_record_prune(*, days: int = RETENTION_DAYS) -> int:
    cutoff = timezone.now() - timedelta(days=days)
    return IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()[0]


def idempotency_records_forget_member(*, member_id: int) -> int:
    """Right to erasure: drop the stored answers that carry a member's data (the member's own
    page: `id`; a voucher check: `member_id`/`member_name`). The keys go too: a replay after
    erasure runs the request again, which the services refuse or answer without the data."""
    from django.db.models import Q

    return IdempotencyRecord.objects.filter(
        Q(path__startswith="/api/v1/members/", response_body__id=member_id)
        | Q(response_body__member_id=member_id)
    ).delete()[0]


def request_idempotency_key(request: Request, body_field: str | None) -> str:
    """The key of a write: the view's body field when it names one and it is given, else the
    Idempotency-Key header (1 to 64 characters, checked by the view's header helper)."""
    if body_field and isinstance(request.data, dict):
        value = request.data.get(body_field)
        if isinstance(value, str) and value:
            return value
    return request.headers.get("Idempotency-Key") or ""


def wrap_handler(view: Any, request: Request, handler: Callable[..., Response]) -> Callable:
    body_field = getattr(view, "idempotency_body_field", None)

    def wrapped(request: Request, *args: Any, **kwargs: Any) -> Response:
        header = request.headers.get("Idempotency-Key")
        if header is not None and not 1 <= len(header) <= MAX_HEADER_LENGTH:
            raise serializers.ValidationError(
                {
                    "Idempotency-Key": [
                        _("Give 1 to %(max)s characters.") % {"max": MAX_HEADER_LENGTH}
                    ]
                }
            )
        key = request_idempotency_key(request, body_field)
        if not key or len(key) > 255 or "\x00" in key:
            return handler(request, *args, **kwargs)  # the view's serializer refuses it
        return idempotent_call(
            request=request, key=key, handler=lambda: handler(request, *args, **kwargs)
        )

    return wrapped
