"""Shared kernel: the abstract base every concrete model inherits. No tables of its own."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class BaseModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AuditLog(models.Model):
    """No table: the cross-model audit log page (loyalty/core/audit.py) hangs off this so it has
    a menu entry and its own permission, core.view_auditlog."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_auditlog", "Can see the audit log")]
        verbose_name = "audit log"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return "audit log"


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
        return f"{self.token.user} token, last used {self.last_used_at:%Y-%m-%d %H:%M}"
