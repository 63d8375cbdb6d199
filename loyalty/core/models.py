"""Shared kernel: the abstract base every concrete model inherits, and the API's idempotency
records (one rule for every app's API writes, loyalty/core/idempotency.py)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class BaseModel(models.Model):
    created_at = models.DateTimeField(
        auto_now_add=True, db_index=True, verbose_name=_("created at")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        abstract = True


class AuditLog(models.Model):
    """No table: the cross-model audit log page (loyalty/core/audit.py) hangs off this so it has
    a menu entry and its own permission, core.view_auditlog."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_auditlog", "Can see the audit log")]
        verbose_name = _("audit log")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return str(_("audit log"))


class StaffTokenActivity(models.Model):
    """When a staff API token (DRF's authtoken Token, which has no such column) was last used;
    written at most once a minute per token (loyalty/core/api/tokens.py)."""

    token = models.OneToOneField(
        "authtoken.Token",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="activity",
        verbose_name=_("token"),
    )
    last_used_at = models.DateTimeField(_("last used"))

    class Meta:
        verbose_name = _("staff token use")
        verbose_name_plural = _("staff token uses")

    def __str__(self) -> str:
        return _("%(user)s token, last used %(when)s") % {
            "user": self.token.user,
            "when": f"{self.last_used_at:%Y-%m-%d %H:%M}",
        }


class IdempotencyRecord(BaseModel):
    """The first answer to an API write sent with an idempotency key (docs/api.md, Idempotency).

    A key belongs to the caller (an API client's service user, or a staff user): two clients
    may use the same key without meeting. It is bound to a fingerprint of the request (method,
    path, query and body); `status_code` stays empty while the first request is running.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="idempotency_records",
        verbose_name=_("caller"),
        help_text=_("The API client's service user or the staff user who sent the key."),
    )
    key = models.CharField(_("idempotency key"), max_length=255)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=255)
    fingerprint = models.CharField(
        _("request fingerprint"),
        max_length=64,
        help_text=_("SHA-256 of the method, path, query and body of the first request."),
    )
    status_code = models.PositiveSmallIntegerField(
        _("status of the first answer"), null=True, blank=True
    )
    response_body = models.JSONField(_("first answer"), null=True, blank=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"], name="core_idempotencyrecord_unique_per_caller"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.method} {self.path})"


class ConfigStamp(models.Model):
    """One row: the version of the configuration every process caches (programme settings,
    earning rules, the tier ladder, engagement settings and badge rules, active campaigns, API
    keys: loyalty/core/config_cache.py). Any change to those rows writes a fresh random number
    here, in the same transaction, so each process knows its caches are stale with one
    primary-key read."""

    version = models.BigIntegerField(default=0, verbose_name=_("version"))

    class Meta:
        verbose_name = _("configuration cache stamp")

    def __str__(self) -> str:
        return f"configuration version {self.version}"
