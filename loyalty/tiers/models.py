"""Tiers and tier history.

Invariants:
- tiers are ordered by a unique rank; the tier of rank 0 is the entry tier with threshold 0;
- thresholds grow with rank (checked by the tier services, which see all tiers at once);
- every member has exactly one current assignment (valid_to IS NULL), enforced by a conditional
  unique constraint; history rows are never edited except to close them (valid_to);
- spendable points never decide a tier: qualification reads qualifying values from the ledger,
  which redemptions and expiry do not reduce.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from loyalty.core.models import BaseModel
from loyalty.tiers.windows import WindowKind


class TierPolicy(BaseModel):
    """Single row (pk=1): how the programme qualifies members for tiers."""

    class Basis(models.TextChoices):
        POINTS = "points", _("Qualifying points")
        SPEND = "spend", _("Qualifying spend")

    class DowngradeMode(models.TextChoices):
        PERIOD_END = "period_end", _("Downgrade at period end (after the grace days)")
        NEVER = "never", _("Never downgrade")
        IMMEDIATE = "immediate", _("Downgrade as soon as the qualifying value falls")

    basis = models.CharField(
        max_length=10, choices=Basis.choices, default=Basis.POINTS, verbose_name=_("basis")
    )
    window = models.CharField(
        max_length=20,
        choices=WindowKind.choices,
        default=WindowKind.CALENDAR_YEAR,
        verbose_name=_("window"),
    )
    grace_days = models.PositiveIntegerField(
        default=0,
        help_text=_("Days after a period end before a member who fell short is downgraded."),
        verbose_name=_("grace days"),
    )
    one_tier_down = models.BooleanField(
        default=True,
        help_text=_("At a period end, drop at most one tier."),
        verbose_name=_("one tier down"),
    )
    downgrade_mode = models.CharField(
        _("downgrades"),
        max_length=12,
        choices=DowngradeMode.choices,
        default=DowngradeMode.PERIOD_END,
        help_text=_(
            "When a member who no longer reaches their tier loses it. At period end: judged on "
            "the closed window (e.g. 1 January for the year before), after the grace days. "
            "Never: a tier once reached is kept. As soon as it falls: a return, or points "
            "leaving the window, moves the member down at once to the tier the better of the "
            "current and the last closed window reaches (grace days and 'one tier down' do "
            "not apply)."
        ),
    )
    floor_max_tier = models.ForeignKey(
        "tiers.Tier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("highest floor tier"),
        help_text=_(
            "The highest tier staff may guarantee a member as a floor, e.g. Gold for staff and "
            "partners; empty: any tier."
        ),
    )

    history = HistoricalRecords()  # audit trail: who changed what, when

    class Meta:
        verbose_name = _("tier policy")
        verbose_name_plural = _("tier policy")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="tiers_tierpolicy_single_row"),
            models.CheckConstraint(
                condition=Q(downgrade_mode__in=["period_end", "never", "immediate"]),
                name="tiers_tierpolicy_downgrade_mode_valid",
            ),
            models.CheckConstraint(
                condition=Q(downgrade_mode="period_end") | Q(grace_days=0),
                name="tiers_tierpolicy_grace_only_at_period_end",
                violation_error_message=_(
                    "Grace days only apply when members are downgraded at period end."
                ),
            ),
            models.CheckConstraint(
                condition=Q(basis__in=["points", "spend"]), name="tiers_tierpolicy_basis_valid"
            ),
            models.CheckConstraint(
                condition=Q(window__in=WindowKind.values), name="tiers_tierpolicy_window_valid"
            ),
        ]

    def __str__(self) -> str:
        return _("Tiers on %(basis)s, %(window)s") % {
            "basis": self.get_basis_display().lower(),
            "window": self.get_window_display().lower(),
        }


class Tier(BaseModel):
    code = models.SlugField(max_length=30, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=60, verbose_name=_("name"))
    rank = models.PositiveSmallIntegerField(
        unique=True, help_text=_("0 is the entry tier."), verbose_name=_("rank")
    )
    threshold = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Qualifying points or spend in the window needed to reach this tier."),
        verbose_name=_("threshold"),
    )
    earn_multiplier = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Applied by the earning engine to points earned on purchases."),
        verbose_name=_("earn multiplier"),
    )
    entry_gift_points = models.PositiveIntegerField(
        default=0,
        help_text=_("One-off points given when a member is upgraded into this tier."),
        verbose_name=_("entry gift points"),
    )
    free_shipping = models.BooleanField(default=False, verbose_name=_("free shipping"))
    birthday_gift = models.BooleanField(default=False, verbose_name=_("birthday gift"))
    exclusive_rewards = models.BooleanField(default=False, verbose_name=_("exclusive rewards"))
    description = models.TextField(blank=True, verbose_name=_("description"))

    history = HistoricalRecords()  # audit trail: who changed what, when

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__gte=0), name="tiers_tier_threshold_non_negative"
            ),
            models.CheckConstraint(
                condition=~Q(rank=0) | Q(threshold=0), name="tiers_tier_entry_tier_threshold_zero"
            ),
            models.CheckConstraint(
                condition=Q(earn_multiplier__gte=0), name="tiers_tier_multiplier_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TierAssignment(BaseModel):
    """One row per period a member holds a tier. The open row (valid_to NULL) is the current one."""

    class Reason(models.TextChoices):
        ENROLMENT = "enrolment", _("Enrolment")
        THRESHOLD = "threshold", _("Threshold reached")
        PERIOD_END = "period_end", _("Period end")
        MANUAL = "manual", _("Set by staff")
        IMPORT = "import", _("Import")
        RECALCULATION = "recalculation", _("Recalculation after a rule change")
        FLOOR = "floor", _("Raised to the member's floor tier")
        VALUE_FELL = "value_fell", _("Qualifying value fell")

    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        related_name="tier_assignments",
        verbose_name=_("member"),
    )
    tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, related_name="assignments", verbose_name=_("tier")
    )
    previous_tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("previous tier"),
    )
    reason = models.CharField(max_length=20, choices=Reason.choices, verbose_name=_("reason"))
    valid_from = models.DateTimeField(verbose_name=_("valid from"))
    valid_to = models.DateTimeField(null=True, blank=True, verbose_name=_("valid to"))
    qualifying_value = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("At the time of change."),
        verbose_name=_("qualifying value"),
    )
    manual_until = models.DateField(
        null=True,
        blank=True,
        help_text=_("Manual tier: not downgraded by the job before this date."),
        verbose_name=_("manual until"),
    )
    downgrade_due_on = models.DateField(
        null=True,
        blank=True,
        help_text=_("Fell short at a period end; downgrade after the grace."),
        verbose_name=_("downgrade due on"),
    )
    downgrade_to = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("downgrade to"),
    )
    judged_through = models.DateField(
        null=True,
        blank=True,
        help_text=_("Last period end at which the job judged this row (keeps the job idempotent)."),
        verbose_name=_("judged through"),
    )
    note = models.CharField(max_length=255, blank=True, verbose_name=_("note"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )

    class Meta:
        verbose_name = _("tier assignment")
        verbose_name_plural = _("tier assignments")
        ordering = ["-valid_from", "-id"]
        permissions = [("set_tier", "Can set a member's tier manually with a reason")]
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(valid_to__isnull=True),
                name="tiers_tierassignment_one_current",
            ),
            models.CheckConstraint(
                condition=Q(
                    reason__in=[
                        "enrolment",
                        "threshold",
                        "period_end",
                        "manual",
                        "import",
                        "recalculation",
                        "floor",
                        "value_fell",
                    ]
                ),
                name="tiers_tierassignment_reason_valid",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="tiers_tierassignment_valid_range",
            ),
        ]
        indexes = [
            models.Index(
                fields=["tier"], condition=Q(valid_to__isnull=True), name="tiers_current_by_tier"
            ),
            models.Index(
                fields=["downgrade_due_on"],
                condition=Q(valid_to__isnull=True, downgrade_due_on__isnull=False),
                name="tiers_downgrade_due",
            ),
        ]

    def __str__(self) -> str:
        return _("%(member)s: %(tier)s from %(day)s") % {
            "member": self.member_id,
            "tier": self.tier,
            "day": f"{self.valid_from:%Y-%m-%d}",
        }


class TierFloor(BaseModel):
    """A member who keeps at least `tier` whatever they spend (staff, partners). The period-end
    job, immediate downgrades and recalculations never take them below it; setting it raises a
    member below it at once. Removing it changes nothing until the member is next judged."""

    member = models.OneToOneField(
        "members.Member",
        on_delete=models.PROTECT,
        related_name="tier_floor",
        verbose_name=_("member"),
    )
    tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        related_name="floors",
        verbose_name=_("floor tier"),
        help_text=_("The member never goes below this tier, e.g. Gold for an employee."),
    )
    reason = models.CharField(
        _("reason"),
        max_length=255,
        help_text=_("Why the member keeps this tier, e.g. 'employee' or 'partner: Acme Ltd'."),
    )
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("set by"),
    )

    history = HistoricalRecords()  # audit trail: who changed what, when

    class Meta:
        verbose_name = _("floor tier")
        verbose_name_plural = _("floor tiers")
        permissions = [("set_tier_floor", "Can give a member a floor tier")]

    def __str__(self) -> str:
        return _("%(member)s: at least %(tier)s") % {"member": self.member, "tier": self.tier}
