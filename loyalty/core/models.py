"""Shared kernel: the abstract base every concrete model inherits. No tables of its own."""

from django.db import models


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
