"""API clients (machine-to-machine keys), their request log, and webhooks.

Invariants:
- A key is stored only as sha256(key) and shown once, at creation; `prefix` (unique, public)
  finds the row and identifies the key in the admin and the request log.
- A revoked client (revoked_at set) authenticates nothing; revocation is never undone.
- A client past `expires_at` (optional) authenticates nothing (401 api_key_expired).
- Rotation keeps the replaced key as `previous_prefix`/`previous_key_hash`, accepted until
  `previous_key_valid_until` and then refused (401 api_key_rotated); a prefix is unique across
  both columns, so a key finds exactly one client.
- Scopes and webhook event types are subsets of their fixed vocabularies (scopes.SCOPES,
  loyalty.core.events.EVENT_TYPES), checked in clean() since JSON lists have no CHECK here.
- A WebhookDelivery is the durable outbox record of one event for one subscription: created in
  the publisher's own transaction (transactional outbox), sent at least once until delivered or out
  of attempts; a delivered row is never sent again (the send claims the row with a conditional
  UPDATE, so a sweep and a worker never send it twice at once).
"""

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from loyalty.core.channels import SalesChannel
from loyalty.core.events import EVENT_TYPES
from loyalty.core.models import BaseModel
from loyalty.core.scopes import SCOPES

DEFAULT_RATE_PER_MINUTE = 600


class ApiClientQuerySet(models.QuerySet["ApiClient"]):
    def active(self) -> "ApiClientQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiClient(BaseModel):
    """A system (POS, web shop, app) calling the API with its own key."""

    # Lets permission classes recognise `request.auth` without importing this module.
    is_api_client = True

    name = models.CharField(max_length=100, verbose_name=_("name"))
    prefix = models.CharField(
        max_length=12,
        unique=True,
        editable=False,
        help_text=_("Public part of the key."),
        verbose_name=_("prefix"),
    )
    key_hash = models.CharField(max_length=64, editable=False, verbose_name=_("key hash"))
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="api_client",
        editable=False,
        help_text=_("Service account the client's writes are attributed to (cannot log in)."),
        verbose_name=_("user"),
    )
    scopes = models.JSONField(default=list, blank=True, verbose_name=_("scopes"))
    store = models.ForeignKey(
        "members.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_clients",
        help_text=_("If set, the key reports for this store only."),
        verbose_name=_("store"),
    )
    channel = models.CharField(
        max_length=10,
        blank=True,
        default="",
        help_text=_("If set, the key reports through this channel only."),
        verbose_name=_("channel"),
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=DEFAULT_RATE_PER_MINUTE,
        validators=[MinValueValidator(1)],
        verbose_name=_("rate limit per minute"),
    )
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("last used at")
    )
    revoked_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("revoked at")
    )
    expires_at = models.DateTimeField(
        _("expires at"),
        null=True,
        blank=True,
        help_text=_(
            "Optional. From this time on the key is refused (401, code api_key_expired), "
            "e.g. 2027-06-30 18:00 for a partner's trial. Empty: the key does not expire."
        ),
    )
    previous_prefix = models.CharField(
        max_length=12,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text=_("Public part of the key replaced by the last rotation."),
        verbose_name=_("previous prefix"),
    )
    previous_key_hash = models.CharField(
        max_length=64, blank=True, default="", editable=False, verbose_name=_("previous key hash")
    )
    previous_key_valid_until = models.DateTimeField(
        _("old key accepted until"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("After a rotation, the old key keeps working until this time, then 401."),
    )
    notes = models.TextField(blank=True, default="", verbose_name=_("notes"))

    objects = ApiClientQuerySet.as_manager()

    class Meta:
        verbose_name = _("API client")
        constraints = [
            models.CheckConstraint(
                condition=Q(rate_limit_per_minute__gte=1),
                name="integrations_apiclient_rate_positive",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["", "store", "web", "app", "import", "api"]),
                name="integrations_apiclient_channel_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: Any) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def clean(self) -> None:
        errors = {}
        if not isinstance(self.scopes, list) or set(self.scopes) - set(SCOPES):
            errors["scopes"] = f"Choose among: {', '.join(SCOPES)}."
        if self.channel and self.channel not in SalesChannel.values:
            errors["channel"] = f"Choose among: {', '.join(SalesChannel.values)}."
        if errors:
            raise ValidationError(errors)


class ApiRequestLog(models.Model):
    """One row per API request made with a key: written by one INSERT, pruned by a task."""

    client = models.ForeignKey(
        ApiClient, on_delete=models.CASCADE, related_name="requests", verbose_name=_("client")
    )
    method = models.CharField(max_length=8, verbose_name=_("method"))
    route = models.CharField(
        max_length=200,
        help_text=_("URL pattern, e.g. api/v1/ledger/purchases/"),
        verbose_name=_("route"),
    )
    path = models.CharField(max_length=255, verbose_name=_("path"))
    status_code = models.PositiveSmallIntegerField(verbose_name=_("status code"))
    latency_ms = models.PositiveIntegerField(verbose_name=_("latency ms"))
    created_at = models.DateTimeField(db_index=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("API request")
        indexes = [models.Index(fields=["client", "-created_at"], name="integrations_log_client")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status_code}"


class WebhookSubscription(BaseModel):
    client = models.ForeignKey(
        ApiClient, on_delete=models.CASCADE, related_name="webhooks", verbose_name=_("client")
    )
    target_url = models.URLField(max_length=500, verbose_name=_("target url"))
    event_types = models.JSONField(default=list, verbose_name=_("event types"))
    secret = models.CharField(max_length=64, editable=False, verbose_name=_("secret"))
    active = models.BooleanField(default=True, verbose_name=_("active"))

    class Meta:
        verbose_name = _("webhook subscription")

    def __str__(self) -> str:
        return f"{self.client.name} -> {self.target_url}"

    def clean(self) -> None:
        if (
            not isinstance(self.event_types, list)
            or not self.event_types
            or set(self.event_types) - set(EVENT_TYPES)
        ):
            raise ValidationError(
                {"event_types": _("Choose among: %(join)s.") % {"join": ", ".join(EVENT_TYPES)}}
            )


class WebhookDelivery(BaseModel):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    subscription = models.ForeignKey(
        WebhookSubscription,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("subscription"),
    )
    event_id = models.UUIDField(default=uuid.uuid4, db_index=True, verbose_name=_("event id"))
    event_type = models.CharField(max_length=40, verbose_name=_("event type"))
    payload = models.JSONField(verbose_name=_("payload"))
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    last_status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("last status code")
    )
    last_error = models.CharField(
        max_length=500, blank=True, default="", verbose_name=_("last error")
    )
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "delivered", "failed"]),
                name="integrations_webhookdelivery_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(delivered_at__isnull=False),
                name="integrations_webhookdelivery_delivered_has_time",
            ),
            models.UniqueConstraint(
                fields=["subscription", "event_id"],
                name="integrations_webhookdelivery_once_per_event",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="integrations_delivery_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.pk} ({self.status})"
