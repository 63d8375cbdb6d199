"""Analytics: daily aggregates written by its own nightly job, so the dashboard reads a few
hundred rows instead of the whole ledger.

Invariants:
- one KpiSnapshot per (day, store), and one per day for all stores (store NULL);
- a day's rows are replaced as a whole by `kpi_snapshot_day_build` (idempotent per day);
- figures follow the KPI definitions of analytics/selectors: transactions by the store they
  were made at, members and points by the member's home store; days are local days of the
  programme's time zone.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from loyalty.core.formatting import format_day
from loyalty.core.models import BaseModel


class KpiSnapshot(BaseModel):
    day = models.DateField(_("day"), help_text=_("Local day of the programme's time zone."))
    store = models.ForeignKey(
        "members.Store",
        verbose_name=_("store"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: all stores together."),
    )
    purchases = models.PositiveIntegerField(_("purchases"), default=0)
    member_purchases = models.PositiveIntegerField(_("purchases by members"), default=0)
    revenue = models.DecimalField(_("purchase revenue"), max_digits=16, decimal_places=2, default=0)
    member_revenue = models.DecimalField(
        _("purchase revenue from members"), max_digits=16, decimal_places=2, default=0
    )
    returns = models.PositiveIntegerField(_("returns"), default=0)
    returned_amount = models.DecimalField(
        _("amount returned"), max_digits=16, decimal_places=2, default=0
    )
    buyers = models.PositiveIntegerField(_("members who bought"), default=0)
    new_members = models.PositiveIntegerField(_("new members"), default=0)
    members_total = models.PositiveIntegerField(_("members at the end of the day"), default=0)
    points_issued = models.BigIntegerField(_("points issued"), default=0)
    points_reversed = models.BigIntegerField(_("points reversed by returns"), default=0)
    points_redeemed = models.BigIntegerField(_("points redeemed"), default=0)
    points_expired = models.BigIntegerField(_("points expired"), default=0)
    points_adjusted = models.BigIntegerField(_("points adjusted by staff"), default=0)
    outstanding_points = models.BigIntegerField(
        _("outstanding points at the end of the day"), default=0
    )

    class Meta:
        default_permissions = ("view",)  # written only by the nightly job, never by staff
        verbose_name = _("daily KPI snapshot")
        verbose_name_plural = _("daily KPI snapshots")
        ordering = ["-day", "store_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["day"],
                condition=Q(store__isnull=True),
                name="analytics_kpisnapshot_one_total_per_day",
            ),
            models.UniqueConstraint(
                fields=["day", "store"],
                condition=Q(store__isnull=False),
                name="analytics_kpisnapshot_one_per_day_and_store",
            ),
        ]
        indexes = [models.Index(fields=["store", "day"], name="analytics_snapshot_store_day")]

    def __str__(self) -> str:
        where = self.store.code if self.store_id and self.store else _("all stores")
        return str(_("KPIs of %(day)s, %(where)s") % {"day": format_day(self.day), "where": where})


class Dashboard(models.Model):
    """No table: the KPI dashboard page hangs off this so it has a menu entry and its own
    permission (analytics.view_dashboard, held by the Marketing and Finance roles)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_dashboard", _("Can see the KPI dashboard")),
            ("export_kpis", _("Can download KPI tables as CSV")),
        ]
        verbose_name = _("KPI dashboard")
        verbose_name_plural = _("KPI dashboard")

    def __str__(self) -> str:
        return str(_("KPI dashboard"))
