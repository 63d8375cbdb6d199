"""Engagement: badges, purchase streaks, lifecycle stages and the VIP of the month.

Invariants:
- a badge is awarded at most once per member and rule (sequence 1), or once per multiple of the
  rule's threshold when the rule is repeatable (sequences 1, 2, ...): the unique constraint on
  (member, rule, sequence) makes every award path (posting hook, nightly catch-up, bulk import,
  event check-in) idempotent, whatever runs twice or concurrently;
- a member has at most one current lifecycle stage (MemberStage, one row per member); every
  change is a StageChange row (from, to, when) that is never updated;
- streaks are derived (recomputed from purchases in SQL), never edited by hand;
- one VIP per month (unique month).
"""

from typing import Any

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from loyalty.core.models import BaseModel


class Stage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    NEW = "new", _("New")
    REPEAT = "repeat", _("Repeat")
    LOYAL = "loyal", _("Loyal")
    ADVOCATE = "advocate", _("Advocate")
    LAPSING = "lapsing", _("Lapsing")
    LAPSED = "lapsed", _("Lapsed")
    WON_BACK = "won_back", _("Won back")


STAGE_WORDS = {
    Stage.PROSPECT: _("enrolled, no purchase yet"),
    Stage.NEW: _("first purchase recently, or only one purchase so far"),
    Stage.REPEAT: _("has come back to buy again"),
    Stage.LOYAL: _("buys often (the loyal threshold)"),
    Stage.ADVOCATE: _("referred a friend, wrote a review or scored us 9-10"),
    Stage.LAPSING: _("no purchase for a while"),
    Stage.LAPSED: _("no purchase for a long time"),
    Stage.WON_BACK: _("bought again after having lapsed"),
}


class StreakPeriod(models.TextChoices):
    MONTH = "month", _("Calendar months")
    WEEK = "week", _("Weeks (Monday to Sunday)")


class EngagementSettings(BaseModel):
    """The programme's engagement settings (one row, pk=1): lifecycle thresholds, streaks and
    the milestone message."""

    new_days = models.PositiveIntegerField(
        _("'new' for (days)"),
        default=30,
        validators=[MinValueValidator(1)],
        help_text=_(
            "A member whose first purchase is at most this many days old is 'new', e.g. 30."
        ),
    )
    repeat_min_purchases = models.PositiveIntegerField(
        _("'repeat' from (purchases)"),
        default=2,
        validators=[MinValueValidator(2)],
        help_text=_("Purchases in total that make a member 'repeat', e.g. 2."),
    )
    loyal_min_purchases = models.PositiveIntegerField(
        _("'loyal' from (purchases)"),
        default=6,
        validators=[MinValueValidator(2)],
        help_text=_(
            "Purchases within the loyal window that make a member 'loyal', e.g. 6 in 365 days."
        ),
    )
    loyal_window_days = models.PositiveIntegerField(
        _("loyal window (days)"),
        default=365,
        validators=[MinValueValidator(1)],
        help_text=_("The purchases counted for 'loyal' are those of the last N days, e.g. 365."),
    )
    lapsing_days = models.PositiveIntegerField(
        _("'lapsing' after (days)"),
        default=90,
        validators=[MinValueValidator(1)],
        help_text=_("No purchase for this many days: the member is 'lapsing', e.g. 90."),
    )
    lapsed_days = models.PositiveIntegerField(
        _("'lapsed' after (days)"),
        default=180,
        validators=[MinValueValidator(1)],
        help_text=_(
            "No purchase for this many days: the member is 'lapsed', e.g. 180. Must be more "
            "than the lapsing days."
        ),
    )
    won_back_days = models.PositiveIntegerField(
        _("'won back' for (days)"),
        default=90,
        validators=[MinValueValidator(1)],
        help_text=_(
            "A lapsed member who buys again is 'won back' for this many days, then follows the "
            "usual rules, e.g. 90."
        ),
    )
    advocate_min_score = models.PositiveSmallIntegerField(
        _("advocate from score"),
        default=9,
        validators=[MinValueValidator(0)],
        help_text=_(
            "A survey answer 'would you recommend us' at or above this score (0-10) makes an "
            "active member an 'advocate', as does referring a friend or writing a review. E.g. 9."
        ),
    )
    streak_period = models.CharField(
        _("streak counted in"),
        max_length=5,
        choices=StreakPeriod.choices,
        default=StreakPeriod.MONTH,
        help_text=_(
            "Months: a streak is consecutive calendar months with a purchase (programme time "
            "zone); weeks: consecutive Monday-to-Sunday weeks."
        ),
    )
    milestone_template = models.ForeignKey(
        "campaigns.MessageTemplate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("milestone message"),
        help_text=_(
            "Sent when a member earns a badge whose rule has no message of its own. Placeholders "
            "{{ badge }} and {{ first_name }}. Empty: no message. Sent only with consent and "
            "within the weekly message cap."
        ),
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("engagement settings")
        verbose_name_plural = _("engagement settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(pk=1), name="engagement_engagementsettings_single_row"
            ),
            models.CheckConstraint(
                condition=Q(streak_period__in=["month", "week"]),
                name="engagement_engagementsettings_streak_period_valid",
            ),
            models.CheckConstraint(
                condition=Q(lapsed_days__gt=models.F("lapsing_days")),
                name="engagement_engagementsettings_lapsed_after_lapsing",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Engagement settings"))

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if (
            self.lapsed_days is not None
            and self.lapsing_days is not None
            and self.lapsed_days <= self.lapsing_days
        ):
            raise ValidationError(
                {
                    "lapsed_days": _("Must be more days than 'lapsing after' (%(n)s).")
                    % {"n": self.lapsing_days}
                }
            )
        if self.advocate_min_score is not None and self.advocate_min_score > 10:
            raise ValidationError({"advocate_min_score": _("A score from 0 to 10.")})


class BadgeRule(BaseModel):
    class Kind(models.TextChoices):
        FIRST_PURCHASE = "first_purchase", _("First purchase")
        PURCHASES = "purchases", _("Number of purchases")
        TIER_REACHED = "tier_reached", _("Tier reached")
        REVIEWS = "reviews", _("Number of reviews written")
        REFERRALS = "referrals", _("Number of friends referred")
        STREAK = "streak", _("Purchase streak (consecutive periods)")
        EVENT = "event", _("Events attended")

    name = models.CharField(
        _("badge name"), max_length=80, unique=True, help_text=_("Shown to members and staff.")
    )
    code = models.SlugField(
        _("code"),
        max_length=40,
        unique=True,
        help_text=_("A short id for the API, e.g. 'regular-10'."),
    )
    kind = models.CharField(
        _("awarded for"),
        max_length=20,
        choices=Kind.choices,
        help_text=_(
            "What earns the badge. The threshold says how many (purchases, reviews, friends, "
            "events, streak periods); 'tier reached' uses the tier below."
        ),
    )
    threshold = models.PositiveIntegerField(
        _("threshold"),
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_(
            "How many are needed, e.g. 10 purchases or a 3-month streak. First purchase and "
            "tier reached: 1."
        ),
    )
    tier = models.ForeignKey(
        "tiers.Tier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("tier"),
        help_text=_("Tier reached only: this tier or a higher one earns the badge."),
    )
    repeatable = models.BooleanField(
        _("repeatable"),
        default=False,
        help_text=_(
            "Off: once per member. On: once more at every multiple of the threshold (10, 20, "
            "30 purchases...). Not for first purchase or tier reached."
        ),
    )
    active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive rules award nothing; badges stay.")
    )
    description = models.CharField(
        _("description"),
        max_length=200,
        blank=True,
        help_text=_("Optional words shown with the badge, e.g. 'Ten visits, thank you!'."),
    )
    message_template = models.ForeignKey(
        "campaigns.MessageTemplate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("milestone message"),
        help_text=_(
            "Message sent when a member earns this badge (consent and weekly cap respected). "
            "Empty: the engagement settings' milestone message, if any."
        ),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "threshold", "name"]
        verbose_name = _("badge rule")
        verbose_name_plural = _("badge rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "first_purchase",
                        "purchases",
                        "tier_reached",
                        "reviews",
                        "referrals",
                        "streak",
                        "event",
                    ]
                ),
                name="engagement_badgerule_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(threshold__gte=1), name="engagement_badgerule_threshold_positive"
            ),
            models.CheckConstraint(
                condition=~Q(kind="tier_reached") | Q(tier__isnull=False),
                name="engagement_badgerule_tier_rule_has_tier",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["first_purchase", "tier_reached"]) | Q(repeatable=False),
                name="engagement_badgerule_once_only_kinds",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.describe()})"

    def describe(self) -> str:
        """The rule in words (the admin list, the API and messages share it)."""
        n = self.threshold
        text: Any
        if self.kind == self.Kind.FIRST_PURCHASE:
            text = _("first purchase")
        elif self.kind == self.Kind.TIER_REACHED:
            text = _("reached %(tier)s tier") % {"tier": self.tier.name if self.tier else "?"}
        elif self.kind == self.Kind.PURCHASES:
            text = _("%(n)s purchases") % {"n": n}
        elif self.kind == self.Kind.REVIEWS:
            text = _("%(n)s reviews") % {"n": n}
        elif self.kind == self.Kind.REFERRALS:
            text = _("%(n)s friends referred") % {"n": n}
        elif self.kind == self.Kind.STREAK:
            text = _("%(n)s periods in a row with a purchase") % {"n": n}
        else:
            text = _("%(n)s events attended") % {"n": n}
        if self.repeatable:
            text = _("%(text)s, again at every multiple") % {"text": text}
        return str(text)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        errors = {}
        if self.kind == self.Kind.TIER_REACHED and self.tier_id is None:
            errors["tier"] = _("Choose the tier that earns the badge.")
        if self.kind != self.Kind.TIER_REACHED and self.tier_id is not None:
            errors["tier"] = _("Only 'tier reached' badges name a tier.")
        if self.kind in (self.Kind.FIRST_PURCHASE, self.Kind.TIER_REACHED):
            if self.repeatable:
                errors["repeatable"] = _("This badge can be earned only once.")
            if self.threshold != 1:
                errors["threshold"] = _("Use 1 for this kind of badge.")
        if errors:
            raise ValidationError(errors)


class MemberBadge(BaseModel):
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    rule = models.ForeignKey(
        BadgeRule, on_delete=models.PROTECT, related_name="awards", verbose_name=_("badge")
    )
    sequence = models.PositiveIntegerField(
        _("times earned"), default=1, help_text=_("1 for the first award of a badge.")
    )
    awarded_at = models.DateTimeField(_("awarded"))
    source = models.CharField(
        _("awarded by"),
        max_length=20,
        help_text=_("posting, nightly, import or event"),
    )

    class Meta:
        ordering = ["-awarded_at", "-id"]
        verbose_name = _("member badge")
        verbose_name_plural = _("member badges")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "rule", "sequence"], name="engagement_memberbadge_once"
            ),
            models.CheckConstraint(
                condition=Q(sequence__gte=1), name="engagement_memberbadge_sequence_positive"
            ),
        ]
        indexes = [models.Index(fields=["rule", "member"], name="engagement_badge_rule_member")]

    def __str__(self) -> str:
        times = f" x{self.sequence}" if self.sequence > 1 else ""
        return f"{self.rule.name}{times}: member {self.member_id}, {self.awarded_at:%d %b %Y}"


class MemberStreak(models.Model):
    """Derived: recomputed from purchases (services.streaks_compute)."""

    member = models.OneToOneField(
        "members.Member",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        verbose_name=_("member"),
    )
    period = models.CharField(_("counted in"), max_length=5, choices=StreakPeriod.choices)
    current = models.PositiveIntegerField(
        _("current streak"),
        default=0,
        help_text=_("Consecutive periods with a purchase up to this one or the last one."),
    )
    longest = models.PositiveIntegerField(_("longest streak"), default=0)
    last_period_start = models.DateField(_("last period with a purchase"), null=True)
    computed_at = models.DateTimeField(_("computed"))

    class Meta:
        verbose_name = _("purchase streak")
        verbose_name_plural = _("purchase streaks")
        constraints = [
            models.CheckConstraint(
                condition=Q(current__lte=models.F("longest")),
                name="engagement_memberstreak_current_within_longest",
            ),
            models.CheckConstraint(
                condition=Q(period__in=["month", "week"]),
                name="engagement_memberstreak_period_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"member {self.member_id}: {self.current} now, {self.longest} longest"


STAGE_VALUES = [s.value for s in Stage]


class MemberStage(models.Model):
    """The current lifecycle stage of a member (one row per member)."""

    member = models.OneToOneField(
        "members.Member",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        verbose_name=_("member"),
    )
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices)
    since = models.DateTimeField(_("since"))

    class Meta:
        verbose_name = _("lifecycle stage")
        verbose_name_plural = _("lifecycle stages")
        constraints = [
            models.CheckConstraint(
                condition=Q(stage__in=STAGE_VALUES), name="engagement_memberstage_stage_valid"
            )
        ]
        indexes = [models.Index(fields=["stage"], name="engagement_stage_idx")]

    def __str__(self) -> str:
        return f"member {self.member_id}: {self.get_stage_display()} since {self.since:%d %b %Y}"


class StageChange(models.Model):
    """History: one row per stage change, never updated."""

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    from_stage = models.CharField(
        _("from"), max_length=10, choices=Stage.choices, blank=True, help_text=_("Empty: first.")
    )
    to_stage = models.CharField(_("to"), max_length=10, choices=Stage.choices)
    changed_at = models.DateTimeField(_("changed"))
    cause = models.CharField(_("cause"), max_length=20, help_text=_("posting, nightly or import"))

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        constraints = [
            models.CheckConstraint(
                condition=Q(to_stage__in=STAGE_VALUES)
                & (Q(from_stage="") | Q(from_stage__in=STAGE_VALUES)),
                name="engagement_stagechange_stages_valid",
            )
        ]
        indexes = [
            models.Index(fields=["member", "changed_at"], name="engagement_stagechange_member"),
            models.Index(fields=["changed_at"], name="engagement_stagechange_time"),
        ]

    def __str__(self) -> str:
        before = self.get_from_stage_display() or _("none")
        return f"member {self.member_id}: {before} → {self.get_to_stage_display()}, {self.changed_at:%d %b %Y}"


class StageCount(models.Model):
    """Members per stage on a day (written by the nightly job), for analytics over time."""

    day = models.DateField(_("day"))
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices)
    members = models.PositiveIntegerField(_("members"))

    class Meta:
        ordering = ["-day", "stage"]
        verbose_name = _("members per stage")
        verbose_name_plural = _("members per stage")
        constraints = [
            models.UniqueConstraint(fields=["day", "stage"], name="engagement_stagecount_once"),
            models.CheckConstraint(
                condition=Q(stage__in=STAGE_VALUES), name="engagement_stagecount_stage_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day:%d %b %Y}: {self.members} {self.get_stage_display()}"


class EventAttendance(BaseModel):
    """A member checked in at an event (the events feature calls services.event_check_in)."""

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="+", verbose_name=_("member")
    )
    event_ref = models.CharField(
        _("event"), max_length=64, help_text=_("The event's id in the events feature.")
    )
    attended_at = models.DateTimeField(_("attended"))

    class Meta:
        ordering = ["-attended_at", "-id"]
        verbose_name = _("event attendance")
        verbose_name_plural = _("event attendances")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "event_ref"], name="engagement_eventattendance_once"
            )
        ]

    def __str__(self) -> str:
        return f"member {self.member_id} at {self.event_ref}, {self.attended_at:%d %b %Y}"


class VipOfMonth(BaseModel):
    """The VIP of a month: the highest net spend in that month among members whose stage was
    'loyal' when the pick ran; ties go to the earliest enrolment (then the lowest id)."""

    month = models.DateField(_("month"), unique=True, help_text=_("First day of the month."))
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    spend = models.DecimalField(_("spend in the month"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["-month"]
        verbose_name = _("VIP of the month")
        verbose_name_plural = _("VIPs of the month")

    def __str__(self) -> str:
        return f"{self.month:%B %Y}: member {self.member_id} ({self.spend})"
