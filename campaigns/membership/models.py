"""The paid club: plans, memberships and their paid terms.

Invariants (constraints below; the rest kept by campaigns.membership.services):
- A member has at most one open (active) membership; lapsed and cancelled ones stay as history.
- A membership's terms follow each other without a gap: term N+1 starts the day after term N
  ends (renewing early or in the grace period both continue the membership).
- Every term carries the external payment reference that paid it, unique across the programme
  (replaying it changes nothing). The product stores no card data.
- Days are days in the programme's time zone; a term's end day is included. Benefits hold from
  the first day of the first term to the end of the last term plus the plan's grace days, and
  stop at once when the membership is cancelled.
- A refund is never more than the term's fee (the pro-rata rule, docs/paid-membership.md).
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from loyalty.core.formatting import format_day, format_number
from loyalty.core.models import BaseModel

MONEY: dict[str, Any] = {"max_digits": 10, "decimal_places": 2}


class ClubPlan(BaseModel):
    class Period(models.IntegerChoices):
        MONTHLY = 1, _("Monthly")
        QUARTERLY = 3, _("Every 3 months")
        YEARLY = 12, _("Yearly")

    code = models.SlugField(
        _("code"),
        max_length=40,
        unique=True,
        help_text=_("Stable reference for the shop and the API, e.g. 'plus-yearly'."),
    )
    name = models.CharField(_("name"), max_length=120, help_text=_("e.g. 'Plus club, yearly'."))
    description = models.TextField(_("description"), blank=True)
    fee = models.DecimalField(
        _("fee"),
        **MONEY,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("What one term costs, e.g. 49.00; the payment comes from the shop."),
    )
    term_months = models.PositiveSmallIntegerField(
        _("term"),
        choices=Period.choices,
        default=Period.YEARLY,
        help_text=_(
            "How long one paid term lasts: joined on 3 March, a monthly term ends 2 April."
        ),
    )
    points_multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("10"))],
        help_text=_(
            "Members earn this many times the points on purchases, on top of their tier, e.g. "
            "1.5; 1 means no extra points."
        ),
    )
    reward_discount_percent = models.DecimalField(
        _("reward discount (%)"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("90"))],
        help_text=_(
            "Rewards cost members this much less, e.g. 10 makes a 500-point reward 450 points "
            "(rounded in the member's favour, at least 1 point); donations are not discounted."
        ),
    )
    free_delivery = models.BooleanField(
        _("free delivery"),
        default=False,
        help_text=_("The web shop delivers members' orders for free (the API tells the shop)."),
    )
    exclusive_rewards = models.ManyToManyField(
        "rewards.Reward",
        blank=True,
        related_name="+",
        verbose_name=_("members-only rewards"),
        help_text=_(
            "Rewards only members of this plan may see and redeem (a reward listed on several "
            "plans is open to members of any of them)."
        ),
    )
    grace_days = models.PositiveSmallIntegerField(
        _("grace period (days)"),
        default=14,
        validators=[MaxValueValidator(90)],
        help_text=_(
            "Days after a term ends during which benefits continue and a renewal continues the "
            "membership without a gap, e.g. 14; after that the membership lapses."
        ),
    )
    reminder_days = models.PositiveSmallIntegerField(
        _("remind before renewal (days)"),
        default=7,
        validators=[MaxValueValidator(60)],
        help_text=_("Send the renewal reminder this many days before a term ends; 0: none."),
    )
    reminder_template = models.ForeignKey(
        "campaigns.MessageTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reminder message"),
        help_text=_(
            "The message template of the reminder. Placeholders: {{ plan }}, {{ ends_on }}, "
            "{{ fee }}, {{ auto_renew }}. Sent only to members who consented to e-mail, within "
            "the weekly message cap."
        ),
    )
    active = models.BooleanField(
        _("open to new members"),
        default=True,
        help_text=_("Off: nobody can join; current members keep it and can still renew."),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["fee", "name"]
        verbose_name = _("club plan")
        verbose_name_plural = _("club plans")
        constraints = [
            models.CheckConstraint(condition=Q(fee__gt=0), name="membership_clubplan_fee_positive"),
            models.CheckConstraint(
                condition=Q(term_months__in=[1, 3, 12]), name="membership_clubplan_term_valid"
            ),
            models.CheckConstraint(
                condition=Q(points_multiplier__gte=1, points_multiplier__lte=10),
                name="membership_clubplan_multiplier_range",
            ),
            models.CheckConstraint(
                condition=Q(reward_discount_percent__gte=0, reward_discount_percent__lte=90),
                name="membership_clubplan_discount_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def benefits(self) -> str:
        """The plan's benefits in words (admin list, API, reminder)."""
        parts = []
        if self.points_multiplier != 1:
            parts.append(str(_("x%(m)s points") % {"m": f"{self.points_multiplier.normalize():f}"}))
        if self.reward_discount_percent:
            parts.append(
                str(
                    _("%(p)s%% off rewards")
                    % {"p": f"{Decimal(self.reward_discount_percent).normalize():f}"}
                )
            )
        if self.free_delivery:
            parts.append(str(_("free delivery")))
        return ", ".join(parts) or str(_("no benefits set"))


class ClubMembership(BaseModel):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active (in a term or its grace period)")
        LAPSED = "lapsed", _("Lapsed (not renewed in time)")
        CANCELLED = "cancelled", _("Cancelled")

    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    plan = models.ForeignKey(
        ClubPlan, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("plan")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    auto_renew = models.BooleanField(
        _("renews automatically"),
        default=True,
        help_text=_(
            "The shop charges the member at the end of each term and posts the payment; off: "
            "the member renews by hand. Either way the renewal is recorded from its payment."
        ),
    )
    started_on = models.DateField(_("member since"))
    ends_on = models.DateField(_("paid until"), help_text=_("Last day of the last paid term."))
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("reason for cancelling"), max_length=300, blank=True)
    refund = models.DecimalField(
        _("refund due"),
        **MONEY,
        default=Decimal("0"),
        help_text=_("What the cancellation gives back, by the pro-rata rule; paid by the shop."),
    )
    lapsed_on = models.DateField(_("lapsed on"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-started_on", "-pk"]
        verbose_name = _("club membership")
        verbose_name_plural = _("club memberships")
        permissions = [("cancel_clubmembership", "Can cancel club memberships")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["active", "lapsed", "cancelled"]),
                name="membership_clubmembership_status_valid",
            ),
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(status="active"),
                name="membership_clubmembership_one_open_per_member",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("started_on")),
                name="membership_clubmembership_dates_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="membership_clubmembership_cancel_time_set",
            ),
            models.CheckConstraint(
                condition=Q(refund__gte=0), name="membership_clubmembership_refund_positive"
            ),
        ]
        indexes = [models.Index(fields=["status", "ends_on"], name="membership_due_idx")]

    def __str__(self) -> str:
        return f"{self.member}: {self.plan} ({self.get_status_display()})"


class ClubTerm(BaseModel):
    """One paid term of a membership: its days, its fee and the payment that paid it."""

    class Kind(models.TextChoices):
        JOIN = "join", _("Joined")
        RENEWAL = "renewal", _("Renewal")

    membership = models.ForeignKey(
        ClubMembership, on_delete=models.PROTECT, related_name="terms", verbose_name=_("membership")
    )
    number = models.PositiveIntegerField(_("term number"), help_text=_("1 = the joining term."))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    fee = models.DecimalField(_("fee paid"), **MONEY)
    payment_reference = models.CharField(
        _("payment reference"),
        max_length=100,
        unique=True,
        help_text=_("The shop's or payment provider's reference of the payment (no card data)."),
    )
    paid_at = models.DateTimeField(_("paid at"))
    refund = models.DecimalField(_("refunded"), **MONEY, default=Decimal("0"))

    class Meta:
        ordering = ["membership", "number"]
        verbose_name = _("club term")
        verbose_name_plural = _("club terms")
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "number"], name="membership_clubterm_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["join", "renewal"]), name="membership_clubterm_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="membership_clubterm_dates_ordered"
            ),
            models.CheckConstraint(condition=Q(fee__gt=0), name="membership_clubterm_fee_positive"),
            models.CheckConstraint(
                condition=Q(refund__gte=0) & Q(refund__lte=F("fee")),
                name="membership_clubterm_refund_within_fee",
            ),
        ]
        indexes = [models.Index(fields=["paid_at"], name="membership_term_paid_idx")]

    def __str__(self) -> str:
        # "1 Mar 2026 to 28 Feb 2027: 30.00" / "2026年3月1日至2027年2月28日：30.00"
        return gettext("%(first)s to %(last)s: %(fee)s") % {
            "first": format_day(self.starts_on),
            "last": format_day(self.ends_on),
            "fee": format_number(self.fee, 2),
        }
