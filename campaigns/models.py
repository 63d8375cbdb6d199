"""Campaigns: segments (who), campaigns (what, when, how much), and what they produced.

Invariants:
- a segment is either a rule (conditions in AND groups, the groups ORed) or a static list;
  it is evaluated by ONE SQL query (campaigns/segments.py), for any "as of" date;
- a campaign never awards more than its points budget: `points_awarded` only grows under a row
  lock of the campaign (services.campaign_award), and the database refuses awarded > budget;
- the audience and the holdout are fixed at launch: one CampaignAudience row per targeted member,
  `holdout` from a stable hash of (campaign, member), so every evaluation holds out the same ones;
- every status change is a CampaignStatusChange row with who, when and why;
- an action event is counted once per (kind, action id): POSTing it twice awards once.
"""

from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from campaigns.choices import ConditionField, ConditionOperator
from campaigns.validation import condition_errors, settings_errors, template_errors
from loyalty.core.models import BaseModel

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

WEEKDAY_NAMES = [
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
]
MONTH_NAMES = [
    _("Jan"),
    _("Feb"),
    _("Mar"),
    _("Apr"),
    _("May"),
    _("Jun"),
    _("Jul"),
    _("Aug"),
    _("Sep"),
    _("Oct"),
    _("Nov"),
    _("Dec"),
]


class Segment(BaseModel):
    class Kind(models.TextChoices):
        RULES = "rules", _("Rules")
        STATIC = "static", _("Static list (CSV)")

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(
        _("kind"),
        max_length=10,
        choices=Kind.choices,
        default=Kind.RULES,
        help_text=_(
            "Rules: members matching the conditions below (e.g. 'Gold tier AND no purchase in "
            "90 days'). Static list: the members imported from a CSV file."
        ),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        permissions = [("export_segment", "Can export segment members")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["rules", "static"]), name="campaigns_segment_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return self.name


class SegmentCondition(BaseModel):
    """One condition of a rule segment. Conditions with the same group number must all hold
    (AND); a member is in the segment when any group holds (OR)."""

    Field = ConditionField
    Operator = ConditionOperator

    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="conditions", verbose_name=_("segment")
    )
    group = models.PositiveSmallIntegerField(
        _("group"),
        default=1,
        help_text=_(
            "Conditions with the same group number must all hold (AND); a member matching any "
            "group is in the segment (OR). E.g. group 1: tier is gold; group 2: spend at least "
            "500."
        ),
    )
    field = models.CharField(_("field"), max_length=20, choices=Field.choices)
    operator = models.CharField(_("operator"), max_length=10, choices=Operator.choices)
    value = models.CharField(
        _("value"),
        max_length=64,
        help_text=_(
            "A code (gold, S001, email, web), a number (3, 250.00), a date (2026-01-31), a month "
            "(2), yes/no, or the number of days for 'within the last N days'."
        ),
    )
    window_days = models.PositiveIntegerField(
        _("counted over the last N days"),
        null=True,
        blank=True,
        help_text=_(
            "Purchases and spend only: count the last N days before the 'as of' date (e.g. 365). "
            "Empty: all history."
        ),
    )

    class Meta:
        ordering = ["group", "id"]
        verbose_name = _("condition")
        verbose_name_plural = _("conditions")
        constraints = [
            models.CheckConstraint(
                condition=Q(field__in=ConditionField.values),
                name="campaigns_segmentcondition_field_valid",
            ),
            models.CheckConstraint(
                condition=Q(operator__in=ConditionOperator.values),
                name="campaigns_segmentcondition_operator_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_field_display()} {self.get_operator_display()} {self.value}"

    def clean(self) -> None:
        errors = condition_errors(self)
        if errors:
            raise ValidationError(errors)


class SegmentListMember(BaseModel):
    """A member of a static (CSV) segment."""

    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="list_members", verbose_name=_("segment")
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )

    class Meta:
        verbose_name = _("list member")
        verbose_name_plural = _("list members")
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "member"], name="campaigns_segmentlistmember_unique"
            )
        ]
        indexes = [models.Index(fields=["member"], name="campaigns_listmember_idx")]

    def __str__(self) -> str:
        return _("%(member)s in %(segment)s") % {"member": self.member, "segment": self.segment}


class RfmScore(models.Model):
    """Recency, frequency and monetary quintiles (1-5, 5 best) per member with purchases,
    recomputed nightly by one INSERT ... SELECT (campaigns/services.py rfm_scores_compute)."""

    member = models.OneToOneField(
        "members.Member",
        on_delete=models.CASCADE,
        related_name="+",
        primary_key=True,
        verbose_name=_("member"),
    )
    recency = models.PositiveSmallIntegerField(_("recency quintile"))
    frequency = models.PositiveSmallIntegerField(_("frequency quintile"))
    monetary = models.PositiveSmallIntegerField(_("monetary quintile"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("RFM score")
        verbose_name_plural = _("RFM scores")

    def __str__(self) -> str:
        return f"RFM {self.recency}{self.frequency}{self.monetary} for member {self.member_id}"


class Campaign(BaseModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        ENDED = "ended", _("Ended")

    class Mechanic(models.TextChoices):
        MULTIPLIER = "multiplier", _("Points multiplier on purchases")
        FIXED_BONUS = "fixed_bonus", _("Fixed bonus after a purchase of at least X")
        NTH_PURCHASE = "nth_purchase", _("Bonus on the Nth purchase in the campaign")
        FIRST_PURCHASE = "first_purchase", _("Bonus on the first purchase after enrolment")
        BIRTHDAY = "birthday", _("Birthday bonus")
        REFERRAL = "referral", _("Referral: referrer and new member rewarded")
        ACTION = "action", _("Points for an action (review, survey, ...)")
        WIN_BACK = "win_back", _("Win-back bonus for lapsed members")

    class Stacking(models.TextChoices):
        COMBINE = "combine", _("Combine with other campaigns")
        EXCLUSIVE = "exclusive", _("Exclusive: the only campaign applied")

    class CapPeriod(models.TextChoices):
        DAY = "day", _("per day")
        WEEK = "week", _("per week")
        MONTH = "month", _("per month")
        CAMPAIGN = "campaign", _("for the whole campaign")

    class BirthdayWindow(models.TextChoices):
        DAY = "day", _("On the birthday")
        WEEK = "week", _("In the birthday week (from its Monday)")
        MONTH = "month", _("In the birthday month (from the 1st)")

    class Action(models.TextChoices):
        REVIEW = "review", _("Product review")
        SURVEY = "survey", _("Survey answered")
        SHARE = "share", _("Social share")
        RECYCLING = "recycling", _("Recycling or trade-in")
        OWN_CUP = "own_cup", _("Brought their own cup")
        APP_DOWNLOAD = "app_download", _("App downloaded")
        PROFILE_COMPLETED = "profile_completed", _("Profile completed")

    name = models.CharField(_("name"), max_length=120, unique=True)
    goal = models.TextField(
        _("goal"),
        blank=True,
        # xgettext:no-python-format
        help_text=_("What the campaign should achieve, e.g. 'Bring back 5% of lapsed members'."),
    )
    segment = models.ForeignKey(
        Segment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name=_("segment"),
        help_text=_("Who is targeted; empty: every active member, also those who join later."),
    )
    mechanic = models.CharField(_("mechanic"), max_length=20, choices=Mechanic.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    starts_at = models.DateTimeField(
        _("starts"), help_text=_("In the programme time zone, e.g. 2026-12-01 00:00.")
    )
    ends_at = models.DateTimeField(
        _("ends"), help_text=_("Exclusive, e.g. 2027-01-01 00:00 for the whole of December.")
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"),
        default=100,
        help_text=_("Lower goes first; among exclusive campaigns the lowest number wins."),
    )
    stacking = models.CharField(
        _("stacking"),
        max_length=10,
        choices=Stacking.choices,
        default=Stacking.COMBINE,
        help_text=_(
            "Exclusive: when this campaign applies to a purchase, no other campaign does "
            "(the exclusive one with the lowest priority number wins)."
        ),
    )
    points_budget = models.PositiveBigIntegerField(
        _("points budget"),
        null=True,
        blank=True,
        help_text=_(
            "Most points the campaign may give in total, e.g. 500000. Empty: no limit. The "
            "award that reaches the budget is cut to what is left; after that nothing is given."
        ),
    )
    points_awarded = models.BigIntegerField(_("points awarded"), default=0, editable=False)
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout %"),
        default=10,
        validators=[MaxValueValidator(50)],
        help_text=_(
            "Share of the targeted members kept out at random (control group) to measure lift, "
            "e.g. 10. Fixed at launch."
        ),
    )
    # --- mechanic settings (which ones apply depends on the mechanic; validated in clean) ---
    multiplier = models.DecimalField(
        _("multiplier"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("1.01")), MaxValueValidator(Decimal("20"))],
        help_text=_("Multiplier: points x this, e.g. 2 for double points."),
    )
    bonus_points = models.PositiveIntegerField(
        _("bonus points"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(1_000_000)],
        help_text=_("Points given each time the campaign applies, e.g. 200."),
    )
    referee_points = models.PositiveIntegerField(
        _("points for the new member"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(1_000_000)],
        help_text=_("Referral: points for the referred member, e.g. 100 (referrer: bonus points)."),
    )
    min_spend = models.DecimalField(
        _("minimum spend"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("The purchase must be at least this much, e.g. 50.00."),
    )
    purchase_number = models.PositiveSmallIntegerField(
        _("Nth purchase"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Nth purchase: which purchase within the campaign earns, e.g. 3."),
    )
    lapsed_days = models.PositiveIntegerField(
        _("lapsed after N days"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Win-back: no purchase for this many days before the campaign, e.g. 90."),
    )
    action = models.CharField(
        _("action"),
        max_length=20,
        choices=Action.choices,
        blank=True,
        help_text=_("Points for actions: which action earns."),
    )
    cap_count = models.PositiveIntegerField(
        _("cap (times)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Most awards per member (per referrer for referrals) in the cap period, e.g. 3. "
            "Empty: no cap."
        ),
    )
    cap_period = models.CharField(
        _("cap period"),
        max_length=10,
        choices=CapPeriod.choices,
        default=CapPeriod.CAMPAIGN,
        help_text=_("The period the cap counts over."),
    )
    categories = models.JSONField(
        _("categories"), default=list, blank=True, help_text=_("Only these categories.")
    )
    skus = models.JSONField(_("SKUs"), default=list, blank=True, help_text=_("Only these SKUs."))
    store_codes = models.JSONField(
        _("stores"), default=list, blank=True, help_text=_("Only purchases in these stores.")
    )
    channels = models.JSONField(
        _("channels"), default=list, blank=True, help_text=_("Only purchases on these channels.")
    )
    weekdays = models.JSONField(
        _("days of the week"),
        default=list,
        blank=True,
        help_text=_(
            "Only purchases on these days (0 = Monday ... 6 = Sunday) in the programme time "
            "zone, e.g. [1] for double points every Tuesday. Empty: every day."
        ),
    )
    dates = models.JSONField(
        _("dates every year"),
        default=list,
        blank=True,
        help_text=_(
            "Only purchases on these days of the year (month-day, e.g. 11-11 for 11 November) "
            "in the programme time zone. With days of the week too, either one matches."
        ),
    )
    birthday_window = models.CharField(
        _("birthday gift given"),
        max_length=10,
        choices=BirthdayWindow.choices,
        default=BirthdayWindow.DAY,
        help_text=_(
            "Birthday: when the points or voucher are given, e.g. 'in the birthday month' gives "
            "it on the 1st of the month (or the first night after a member joins); once a year."
        ),
    )
    reward = models.ForeignKey(
        "rewards.Reward",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reward voucher"),
        help_text=_(
            "Birthday and win-back: give a voucher for this catalogue reward instead of bonus "
            "points (the member is charged no points; the reward's stock is used). Each voucher "
            "uses the reward's points cost from the budget."
        ),
    )
    launched_at = models.DateTimeField(_("launched"), null=True, blank=True, editable=False)
    message_template = models.ForeignKey(
        "campaigns.MessageTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name=_("launch message"),
        help_text=_("Sent to the targeted members (not the holdout) who consented, at launch."),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_at", "name"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        permissions = [("change_campaign_status", "Can launch, pause and end campaigns")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "scheduled", "active", "paused", "ended"]),
                name="campaigns_campaign_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    mechanic__in=[
                        "multiplier",
                        "fixed_bonus",
                        "nth_purchase",
                        "first_purchase",
                        "birthday",
                        "referral",
                        "action",
                        "win_back",
                    ]
                ),
                name="campaigns_campaign_mechanic_valid",
            ),
            models.CheckConstraint(
                condition=Q(stacking__in=["combine", "exclusive"]),
                name="campaigns_campaign_stacking_valid",
            ),
            models.CheckConstraint(
                condition=Q(cap_period__in=["day", "week", "month", "campaign"]),
                name="campaigns_campaign_cap_period_valid",
            ),
            models.CheckConstraint(
                condition=Q(birthday_window__in=["day", "week", "month"]),
                name="campaigns_campaign_birthday_window_valid",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="campaigns_campaign_window_valid"
            ),
            models.CheckConstraint(
                condition=Q(points_budget__isnull=True) | Q(points_awarded__lte=F("points_budget")),
                name="campaigns_campaign_within_budget",
            ),
            models.CheckConstraint(
                condition=Q(holdout_percent__lte=50), name="campaigns_campaign_holdout_range"
            ),
        ]
        indexes = [models.Index(fields=["status", "starts_at"], name="campaigns_status_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"

    def clean(self) -> None:
        errors: dict[str, _StrOrPromise] = dict(settings_errors(self))
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("Must be after the start.")
        if errors:
            raise ValidationError(errors)

    def days_display(self) -> str:
        """The double-points days in words, e.g. "Tuesday, Saturday, 11 Nov" ("" for every day)."""
        weekdays = [str(WEEKDAY_NAMES[d]) for d in sorted(self.weekdays or []) if 0 <= d <= 6]
        dates = [
            f"{int(d[3:])} {MONTH_NAMES[int(d[:2]) - 1]}" for d in self.dates or [] if len(d) == 5
        ]
        return ", ".join(weekdays + dates)

    def gift_display(self) -> str:
        """What a birthday or win-back campaign gives, in words."""
        if self.reward_id is not None and self.reward is not None:
            return str(_("a voucher for %(reward)s") % {"reward": self.reward.name})
        return str(_("%(n)s points") % {"n": self.bonus_points or 0})

    @property
    def budget_left(self) -> int | None:
        if self.points_budget is None:
            return None
        return max(self.points_budget - self.points_awarded, 0)


class CampaignAudience(models.Model):
    """Who a launched campaign targets; holdout members get nothing and are measured."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="audience", verbose_name=_("campaign")
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    holdout = models.BooleanField(_("held out"), default=False)

    class Meta:
        verbose_name = _("audience member")
        verbose_name_plural = _("audience")
        constraints = [
            models.UniqueConstraint(fields=["member", "campaign"], name="campaigns_audience_unique")
        ]

    def __str__(self) -> str:
        group = _("holdout") if self.holdout else _("targeted")
        return _("%(member_id)s %(group)s in campaign %(campaign_id)s") % {
            "member_id": self.member_id,
            "group": group,
            "campaign_id": self.campaign_id,
        }


class CampaignStatusChange(BaseModel):
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="status_changes",
        verbose_name=_("campaign"),
    )
    from_status = models.CharField(_("from"), max_length=10, blank=True)
    to_status = models.CharField(_("to"), max_length=10)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")

    def __str__(self) -> str:
        who = self.actor or _("scheduler")
        return _("%(value)s -> %(to_status)s by %(who)s") % {
            "value": self.from_status or "-",
            "to_status": self.to_status,
            "who": who,
        }


class CampaignAward(BaseModel):
    """Points a campaign gave (or holds pending, for referrals), with what caused them."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        AWARDED = "awarded", _("Awarded")
        VOID = "void", _("Void")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="awards", verbose_name=_("campaign")
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    points = models.BigIntegerField(_("points"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    source = models.CharField(_("cause"), max_length=80)
    transaction = models.ForeignKey(
        "ledger.Transaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("purchase"),
    )
    entry = models.ForeignKey(
        "ledger.LedgerEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("ledger entry"),
    )
    voucher = models.OneToOneField(
        "rewards.Voucher",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("voucher"),
        help_text=_("The voucher given instead of points (points: what it used of the budget)."),
    )
    detail = models.CharField(_("detail"), max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("award")
        verbose_name_plural = _("awards")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "source"], name="campaigns_award_once"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "awarded", "void"]),
                name="campaigns_award_status_valid",
            ),
            models.CheckConstraint(condition=Q(points__gte=0), name="campaigns_award_points"),
        ]
        indexes = [models.Index(fields=["member", "campaign"], name="campaigns_award_member_idx")]

    def __str__(self) -> str:
        if self.voucher_id is not None:
            return _("Voucher %(code)s, %(campaign)s, %(status)s") % {
                "code": self.voucher.display_code if self.voucher else "",
                "campaign": self.campaign.name,
                "status": self.get_status_display(),
            }
        return _("%(points)s points, %(name)s, %(status)s") % {
            "points": self.points,
            "name": self.campaign.name,
            "status": self.get_status_display(),
        }


# actions that count as sustainability on the member page (beside donations to causes)
SUSTAINABILITY_ACTIONS = ("recycling", "own_cup")


class ActionEvent(BaseModel):
    """A non-purchase action reported by the app or web shop; (kind, action_id) is unique."""

    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    kind = models.CharField(_("action"), max_length=20, choices=Campaign.Action.choices)
    action_id = models.CharField(
        _("action id"), max_length=64, help_text=_("The caller's id; the same id counts once.")
    )
    occurred_at = models.DateTimeField(_("when"))
    score = models.PositiveSmallIntegerField(
        _("recommendation score"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(10)],
        help_text=_("Survey: 0-10 'would you recommend us', for NPS."),
    )
    points_awarded = models.BigIntegerField(_("points awarded"), default=0)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("action event")
        verbose_name_plural = _("action events")
        constraints = [
            models.UniqueConstraint(fields=["kind", "action_id"], name="campaigns_action_once"),
            models.CheckConstraint(
                condition=Q(kind__in=Campaign.Action.values),
                name="campaigns_actionevent_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__lte=10),
                name="campaigns_actionevent_score_range",
            ),
        ]

    def __str__(self) -> str:
        return _("%(kind)s by member %(member_id)s (%(action_id)s)") % {
            "kind": self.get_kind_display(),
            "member_id": self.member_id,
            "action_id": self.action_id,
        }


class Referral(BaseModel):
    """A referred member's first qualifying purchase, waiting out the return window."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending (return window)")
        AWARDED = "awarded", _("Awarded")
        VOID = "void", _("Void (returned)")
        REFUSED = "refused", _("Refused")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="referrals", verbose_name=_("campaign")
    )
    referrer = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("referrer")
    )
    referee = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("new member")
    )
    purchase = models.ForeignKey(
        "ledger.Transaction",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("first purchase"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    release_at = models.DateTimeField(_("rewarded after"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        constraints = [
            models.UniqueConstraint(fields=["referee"], name="campaigns_referral_one_per_referee"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "awarded", "void", "refused"]),
                name="campaigns_referral_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return _("%(referrer_id)s referred %(referee_id)s: %(status)s") % {
            "referrer_id": self.referrer_id,
            "referee_id": self.referee_id,
            "status": self.get_status_display(),
        }


class MessageTemplate(BaseModel):
    """Subject, text and HTML with {{ first_name }}, {{ points }}, ... placeholders."""

    class Kind(models.TextChoices):
        CAMPAIGN = "campaign", _("Campaign")
        EXPIRY_WARNING = "points_expiring", _("Points expiry warning")
        POINTS_AVAILABLE = "points_available", _("Points now available")
        TIER_CHANGED = "tier_changed", _("Tier change")
        BIRTHDAY = "birthday", _("Birthday greeting")
        EVENT_INVITATION = "event_invitation", _("Event invitation")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=120, unique=True)
    kind = models.CharField(
        _("used for"),
        max_length=40,
        choices=Kind.choices,
        default=Kind.CAMPAIGN,
        help_text=_("Expiry warnings, tier changes and birthdays use the template of that kind."),
    )
    subject = models.CharField(
        _("subject"),
        max_length=200,
        help_text=_("E.g. 'Double points this weekend, {{ first_name }}'."),
    )
    text = models.TextField(
        _("text"),
        help_text=_(
            "Plain text body. Placeholders: {{ first_name }}, {{ last_name }}, {{ points }}, "
            "{{ balance }}, {{ campaign }}, {{ expires_by }}; tier changes: {{ tier }}, "
            "{{ previous_tier }}, {{ direction }} (up or down); birthday vouchers: "
            "{{ voucher }}, {{ reward }}, {{ expires_on }}."
        ),
    )
    html = models.TextField(
        _("HTML"), blank=True, help_text=_("Optional HTML body, same placeholders.")
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = template_errors(self)
        if errors:
            raise ValidationError(errors)


class MessageDelivery(BaseModel):
    """The delivery of one outbox message (ledger.NotificationOutbox) on one channel."""

    class Status(models.TextChoices):
        SENT = "sent", _("Sent")
        RETRYING = "retrying", _("Retrying")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Not sent (no consent or frequency cap)")

    outbox = models.OneToOneField(
        "ledger.NotificationOutbox",
        on_delete=models.PROTECT,
        related_name="delivery",
        verbose_name=_("message"),
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    channel = models.CharField(_("channel"), max_length=10)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    marketing = models.BooleanField(_("marketing"), default=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("message delivery")
        verbose_name_plural = _("message deliveries")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["sent", "retrying", "failed", "skipped"]),
                name="campaigns_delivery_status_valid",
            )
        ]
        indexes = [models.Index(fields=["member", "sent_at"], name="campaigns_delivery_idx")]

    def __str__(self) -> str:
        return _("%(channel)s to member %(member_id)s: %(status)s") % {
            "channel": self.channel,
            "member_id": self.member_id,
            "status": self.get_status_display(),
        }
