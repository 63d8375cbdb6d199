"""Rewards catalogue, redemptions and vouchers.

Invariants (constraints below; the rest is kept by rewards.services under the account lock):
- A reward costs at least one point; its kind decides which benefit fields are set (amount off
  needs an amount, percent off a percentage in (0, 100], a free product its SKU, a tier-restricted
  reward its minimum tier). Stock, when counted, never goes below zero: it is decremented with a
  conditional UPDATE inside the redeeming transaction, so concurrent redemptions cannot oversell.
- Every redemption spends its points through exactly one ledger REDEEM entry; a cancellation
  refunds that entry (into the lots it consumed) exactly once.
- A voucher comes from a redemption, a pre-printed batch or a gift (a campaign's birthday or
  win-back voucher: no points, stock taken, one per gift reference).
- Every redemption has exactly one voucher. A voucher code is unique, from an alphabet without
  0/O/1/I, with a check character; a used voucher has a use time and an order reference or a
  staff reason; a used voucher is never cancelled.
- Partner codes in a pool are handed out at most once (a code row points at its voucher).
"""

from datetime import datetime, time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from loyalty.core.formatting import format_day
from loyalty.core.models import BaseModel

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}
POSITIVE_MONEY = [MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("9999999999.99"))]
MAX_POINTS_COST = 100_000_000
# one message for every way a points cost can be wrong (form, CSV import, database constraint)
POINTS_COST_MESSAGE = _("The points cost is a whole number from 1 to 100,000,000.")
POINTS_COST_VALIDATORS = [
    MinValueValidator(1, message=POINTS_COST_MESSAGE),
    MaxValueValidator(MAX_POINTS_COST, message=POINTS_COST_MESSAGE),
]


class RewardsSettings(BaseModel):
    """Single row (pk=1): paying with points at the till, vouchers, stock alerts."""

    points_payment_minimum = models.PositiveIntegerField(
        default=100,
        help_text=_("Fewest points a member may use to pay part of a bill."),
        verbose_name=_("points payment minimum"),
    )
    points_payment_step = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("Points are used in multiples of this step (e.g. 100 = whole pounds at 1p)."),
        verbose_name=_("points payment step"),
    )
    voucher_undo_window_days = models.PositiveIntegerField(
        default=30,
        help_text=_("Days after use during which a refunded order may undo a voucher."),
        verbose_name=_("voucher undo window days"),
    )
    low_stock_email = models.EmailField(
        blank=True,
        help_text=_("Who is told when a reward runs low (empty: the ADMINS setting)."),
        verbose_name=_("low stock email"),
    )

    history = HistoricalRecords()  # audit trail: who changed what, when

    class Meta:
        verbose_name = _("rewards settings")
        verbose_name_plural = _("rewards settings")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="rewards_rewardssettings_single_row"),
            models.CheckConstraint(
                condition=Q(points_payment_step__gte=1),
                name="rewards_rewardssettings_step_positive",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Rewards settings"))


def daily_window_q(local_time: time) -> Q:
    """Rewards whose daily hours (programme time zone) include `local_time`: no hours set, or
    from <= t < until, or, for hours across midnight (22:00 to 02:00), t >= from or t < until."""
    return (
        Q(daily_from__isnull=True)
        | (
            Q(daily_from__lt=models.F("daily_until"))
            & Q(daily_from__lte=local_time, daily_until__gt=local_time)
        )
        | (
            Q(daily_from__gt=models.F("daily_until"))
            & (Q(daily_from__lte=local_time) | Q(daily_until__gt=local_time))
        )
    )


class RewardQuerySet(models.QuerySet["Reward"]):
    def live(self, at: datetime) -> "RewardQuerySet":
        """Active, inside the validity window at `at`, and inside its daily hours (if any) at
        `at`'s time of day in the programme's time zone."""
        from zoneinfo import ZoneInfo

        from loyalty.ledger.policy import programme_settings_get

        local = at.astimezone(ZoneInfo(programme_settings_get().time_zone)).time()
        return self.filter(active=True).filter(
            Q(available_from__isnull=True) | Q(available_from__lte=at),
            Q(available_until__isnull=True) | Q(available_until__gt=at),
            daily_window_q(local.replace(tzinfo=None)),
        )


class Cause(BaseModel):
    """Something members may give points to (a charity, tree planting, recycling): managed by
    staff, chosen by the member when they redeem a donation reward."""

    class Kind(models.TextChoices):
        CHARITY = "charity", _("Charity")
        TREES = "trees", _("Tree planting")
        RECYCLING = "recycling", _("Recycling")
        OTHER = "other", _("Other")

    class Matching(models.IntegerChoices):
        NONE = 0, _("No matching")
        SAME = 1, _("Brand matches x1 (gives as much again)")
        DOUBLE = 2, _("Brand matches x2 (gives twice as much again)")

    code = models.SlugField(
        _("code"),
        max_length=40,
        unique=True,
        help_text=_("Stable reference for the API and exports, e.g. 'trees-for-cities'."),
    )
    name = models.CharField(_("name"), max_length=120, help_text=_("e.g. 'Trees for Cities'."))
    description = models.TextField(
        _("description"), blank=True, help_text=_("What the members' points pay for.")
    )
    kind = models.CharField(
        _("kind"),
        max_length=20,
        choices=Kind.choices,
        default=Kind.CHARITY,
        help_text=_("Groups causes in reports; recycling causes show beside recycling actions."),
    )
    matching = models.PositiveSmallIntegerField(
        _("brand matching"),
        choices=Matching.choices,
        default=Matching.NONE,
        help_text=_(
            "The brand adds its own gift on top of each donation: x1 gives as much again, x2 "
            "twice as much. Recorded apart from the member's points (never member points)."
        ),
    )
    active = models.BooleanField(
        _("open for donations"),
        default=True,
        help_text=_("Off: members can no longer choose it; past donations stay in the totals."),
    )
    sort_order = models.IntegerField(
        _("sort order"), default=0, help_text=_("Lower numbers come first in the list.")
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name = _("cause")
        verbose_name_plural = _("causes")
        permissions = [("export_donations", "Can export donation totals")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["charity", "trees", "recycling", "other"]),
                name="rewards_cause_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(matching__in=[0, 1, 2]), name="rewards_cause_matching_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Reward(BaseModel):
    class Kind(models.TextChoices):
        AMOUNT_OFF = "amount_off", _("Amount off")
        PERCENT_OFF = "percent_off", _("Percent off")
        FREE_PRODUCT = "free_product", _("Free product")
        GIFT = "gift", _("Gift")
        EXPERIENCE = "experience", _("Experience")
        PARTNER_CODE = "partner_code", _("Partner voucher (code pool)")
        DONATION = "donation", _("Donation to a cause (no voucher)")

    class Visibility(models.TextChoices):
        PUBLIC = "public", _("Public")
        FEATURED = "featured", _("Featured")
        TIER = "tier", _("Tier members only")
        HIDDEN = "hidden", _("Hidden (staff only)")

    class LimitPeriod(models.TextChoices):
        DAY = "day", _("Per day")
        WEEK = "week", _("Per week")
        MONTH = "month", _("Per month")
        YEAR = "year", _("Per year")

    code = models.SlugField(
        max_length=40,
        unique=True,
        help_text=_("Stable reference for tills, imports and the API."),
        verbose_name=_("code"),
    )
    name = models.CharField(max_length=120, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    image = models.FileField(
        upload_to="rewards/",
        blank=True,
        validators=[FileExtensionValidator(["jpg", "jpeg", "png", "webp", "gif"])],
        verbose_name=_("image"),
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("kind"))
    points_cost = models.PositiveIntegerField(
        validators=POINTS_COST_VALIDATORS,
        help_text=_("Points a member spends on one of it, e.g. 500."),
        verbose_name=_("points cost"),
    )
    amount_off = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        validators=POSITIVE_MONEY,
        help_text=_("Amount off kind."),
        verbose_name=_("amount off"),
    )
    percent_off = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))],
        verbose_name=_("percent off"),
    )
    max_discount = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        validators=POSITIVE_MONEY,
        help_text=_("Cap of a percent-off discount (optional)."),
        verbose_name=_("max discount"),
    )
    product_sku = models.CharField(
        max_length=64, blank=True, help_text=_("Free product kind."), verbose_name=_("product sku")
    )
    active = models.BooleanField(default=True, verbose_name=_("active"))
    available_from = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("First moment it can be redeemed, e.g. 1 Dec 00:00; empty: already open."),
        verbose_name=_("available from"),
    )
    available_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "First moment it can no longer be redeemed, e.g. 1 Jan 00:00 to end it after "
            "31 Dec; empty: no end."
        ),
        verbose_name=_("available until"),
    )
    daily_from = models.TimeField(
        _("daily from"),
        null=True,
        blank=True,
        help_text=_(
            "Flash hours: redeemable only from this time of day (programme time zone), e.g. "
            "12:00; set both times or neither. Empty: all day."
        ),
    )
    daily_until = models.TimeField(
        _("daily until"),
        null=True,
        blank=True,
        help_text=_(
            "First time of day it can no longer be redeemed, e.g. 14:00 (12:00 to 14:00 is a "
            "lunchtime offer); a time before 'daily from' crosses midnight (22:00 to 02:00)."
        ),
    )
    cause = models.ForeignKey(
        Cause,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rewards",
        verbose_name=_("cause"),
        help_text=_(
            "Donation rewards: the cause the points go to. Empty: the member chooses one of the "
            "open causes when redeeming."
        ),
    )
    visibility = models.CharField(
        max_length=10,
        choices=Visibility.choices,
        default=Visibility.PUBLIC,
        verbose_name=_("visibility"),
    )
    min_tier = models.ForeignKey(
        "tiers.Tier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Tier-restricted rewards: members in this tier or above."),
        verbose_name=_("min tier"),
    )
    stock = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Left to redeem; empty means unlimited."),
        verbose_name=_("stock"),
    )
    low_stock_threshold = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_(
            "Tell staff when the stock falls to this level, e.g. 10 of 200; at most the stock, "
            "and only for counted stock."
        ),
        verbose_name=_("low stock threshold"),
    )
    low_stock_alerted_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("low stock alerted at")
    )
    limit_per_member = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Most times one member may redeem it (ever)."),
        verbose_name=_("limit per member"),
    )
    limit_per_period = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("limit per period")
    )
    limit_period = models.CharField(
        max_length=10,
        choices=LimitPeriod.choices,
        blank=True,
        default="",
        verbose_name=_("limit period"),
    )
    voucher_valid_days = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_(
            "Days the voucher stays valid after redeeming, e.g. 30: redeemed on 1 March, it "
            "works until the end of 31 March in the programme's time zone."
        ),
        verbose_name=_("voucher valid days"),
    )
    refund_points_on_expiry = models.BooleanField(
        default=False,
        help_text=_("Give the points back when a voucher expires unused."),
        verbose_name=_("refund points on expiry"),
    )
    vouchers_member_bound = models.BooleanField(
        _("vouchers only for the member"),
        default=False,
        help_text=_(
            "Its vouchers can be used only by the member who redeemed them: the till must say "
            "who presents it (e.g. scan the card), and another member is refused. Off: the "
            "voucher can be given away, like a gift voucher."
        ),
    )
    sort_order = models.IntegerField(default=0, verbose_name=_("sort order"))

    objects = RewardQuerySet.as_manager()

    history = HistoricalRecords()  # audit trail: who changed what, when

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["sort_order", "points_cost", "name"]
        permissions = [
            ("import_reward", "Can import the rewards catalogue"),
            ("export_reward", "Can export the rewards catalogue"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "amount_off",
                        "percent_off",
                        "free_product",
                        "gift",
                        "experience",
                        "partner_code",
                        "donation",
                    ]
                ),
                name="rewards_reward_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(visibility__in=["public", "featured", "tier", "hidden"]),
                name="rewards_reward_visibility_valid",
            ),
            models.CheckConstraint(
                condition=Q(limit_period__in=["", "day", "week", "month", "year"]),
                name="rewards_reward_limit_period_valid",
            ),
            models.CheckConstraint(
                condition=Q(points_cost__gte=1),
                name="rewards_reward_points_cost_positive",
                violation_error_message=POINTS_COST_MESSAGE,
            ),
            models.CheckConstraint(
                condition=~Q(kind="amount_off") | Q(amount_off__gt=0),
                name="rewards_reward_amount_off_set",
            ),
            models.CheckConstraint(
                condition=~Q(kind="percent_off") | Q(percent_off__gt=0, percent_off__lte=100),
                name="rewards_reward_percent_off_set",
            ),
            models.CheckConstraint(
                condition=~Q(kind="free_product") | ~Q(product_sku=""),
                name="rewards_reward_product_sku_set",
            ),
            models.CheckConstraint(
                condition=~Q(visibility="tier") | Q(min_tier__isnull=False),
                name="rewards_reward_tier_visibility_has_tier",
            ),
            models.CheckConstraint(
                condition=(Q(limit_per_period__isnull=True) & Q(limit_period=""))
                | (Q(limit_per_period__gte=1) & ~Q(limit_period="")),
                name="rewards_reward_period_limit_complete",
            ),
            models.CheckConstraint(
                condition=Q(available_from__isnull=True)
                | Q(available_until__isnull=True)
                | Q(available_until__gt=models.F("available_from")),
                name="rewards_reward_window_ordered",
            ),
            models.CheckConstraint(
                condition=(Q(daily_from__isnull=True) & Q(daily_until__isnull=True))
                | (
                    Q(daily_from__isnull=False)
                    & Q(daily_until__isnull=False)
                    & ~Q(daily_from=models.F("daily_until"))
                ),
                name="rewards_reward_daily_hours_complete",
            ),
            models.CheckConstraint(
                condition=Q(kind="donation") | Q(cause__isnull=True),
                name="rewards_reward_cause_only_on_donation",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind == self.Kind.AMOUNT_OFF and not self.amount_off:
            errors["amount_off"] = "An amount-off reward needs the amount."
        if self.kind == self.Kind.PERCENT_OFF and not self.percent_off:
            errors["percent_off"] = "A percent-off reward needs the percentage."
        if self.kind == self.Kind.FREE_PRODUCT and not self.product_sku.strip():
            errors["product_sku"] = "A free-product reward needs the product's SKU."
        if self.visibility == self.Visibility.TIER and self.min_tier_id is None:
            errors["min_tier"] = "Choose the lowest tier that may redeem it."
        if bool(self.limit_per_period) != bool(self.limit_period):
            errors["limit_period"] = "Give both the number per period and the period, or neither."
        if (
            self.available_from
            and self.available_until
            and self.available_until <= self.available_from
        ):
            errors["available_until"] = "The end must be after the start."
        if (self.daily_from is None) != (self.daily_until is None):
            errors["daily_until"] = str(_("Give both daily times, or neither."))
        elif self.daily_from is not None and self.daily_from == self.daily_until:
            errors["daily_until"] = str(
                _("The daily hours start and end at the same time; leave both empty for all day.")
            )
        if self.cause_id is not None and self.kind != self.Kind.DONATION:
            errors["cause"] = str(_("Only a donation reward goes to a cause."))
        if errors:
            raise ValidationError(errors)

    @property
    def benefit(self) -> str:
        """What the voucher gives, in words for a clerk or a member."""
        if self.kind == self.Kind.AMOUNT_OFF:
            return _("%(amount)s off") % {"amount": self.amount_off}
        if self.kind == self.Kind.PERCENT_OFF:
            percent = f"{self.percent_off.normalize():f}"  # type: ignore[union-attr]
            if self.max_discount:
                return _("%(percent)s%% off (up to %(cap)s)") % {
                    "percent": percent,
                    "cap": self.max_discount,
                }
            return _("%(percent)s%% off") % {"percent": percent}
        if self.kind == self.Kind.FREE_PRODUCT:
            return _("Free product %(sku)s") % {"sku": self.product_sku}
        if self.kind == self.Kind.PARTNER_CODE:
            return _("Partner voucher: %(name)s") % {"name": self.name}
        if self.kind == self.Kind.DONATION:
            if self.cause_id:
                return _("Donation: %(name)s") % {"name": self.cause.name}  # type: ignore[union-attr]
            return str(_("Donation to a cause"))
        return self.name

    @property
    def daily_hours(self) -> str:
        """ "12:00-14:00" (programme time zone), or "" when redeemable all day."""
        if self.daily_from is None or self.daily_until is None:
            return ""
        return f"{self.daily_from:%H:%M}-{self.daily_until:%H:%M}"


class RewardCode(BaseModel):
    """One partner code of a reward's pool, handed out at most once."""

    reward = models.ForeignKey(
        Reward, on_delete=models.PROTECT, related_name="codes", verbose_name=_("reward")
    )
    code = models.CharField(max_length=100, verbose_name=_("code"))
    voucher = models.OneToOneField(
        "rewards.Voucher",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="partner_code_row",
        verbose_name=_("voucher"),
    )
    batch = models.CharField(
        max_length=100,
        blank=True,
        help_text=_("The uploaded file's name."),
        verbose_name=_("batch"),
    )

    class Meta:
        verbose_name = _("reward code")
        verbose_name_plural = _("reward codes")
        constraints = [
            models.UniqueConstraint(fields=["reward", "code"], name="rewards_rewardcode_unique"),
        ]
        indexes = [
            models.Index(
                fields=["reward"],
                condition=Q(voucher__isnull=True),
                name="rewards_code_free_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reward.code}: {self.code}"


class Redemption(BaseModel):
    class Kind(models.TextChoices):
        REWARD = "reward", _("Catalogue reward")
        POINTS_PAYMENT = "points_payment", _("Paid with points")

    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    class Channel(models.TextChoices):
        STORE = "store", _("Store")
        WEB = "web", _("Web shop")
        APP = "app", _("App")
        API = "api", _("API")
        ADMIN = "admin", _("Admin")

    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    reward = models.ForeignKey(
        Reward,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="redemptions",
        verbose_name=_("reward"),
    )
    kind = models.CharField(
        max_length=20, choices=Kind.choices, default=Kind.REWARD, verbose_name=_("kind")
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.COMPLETED, verbose_name=_("status")
    )
    points = models.PositiveIntegerField(verbose_name=_("points"))
    value = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text=_("Money value of points paid at the till."),
        verbose_name=_("value"),
    )
    channel = models.CharField(
        max_length=10, choices=Channel.choices, default=Channel.API, verbose_name=_("channel")
    )
    store = models.ForeignKey(
        "members.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("store"),
    )
    idempotency_key = models.CharField(
        max_length=200, blank=True, default="", verbose_name=_("idempotency key")
    )
    ledger_entry = models.OneToOneField(
        "ledger.LedgerEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="redemption",
        verbose_name=_("ledger entry"),
    )
    refund_entry = models.OneToOneField(
        "ledger.LedgerEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunded_redemption",
        verbose_name=_("refund entry"),
    )
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))
    cancel_reason = models.CharField(max_length=300, blank=True, verbose_name=_("cancel reason"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    batch_lead = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="batch_followers",
        verbose_name=_("first redemption of the same request"),
        help_text=_("Set on the 2nd to Nth redemption of a request that redeemed N at once."),
    )
    batch_quantity = models.PositiveSmallIntegerField(
        default=1,
        verbose_name=_("quantity redeemed in the request"),
        help_text=_("How many of the reward the request redeemed at once (one voucher each)."),
    )
    list_points = models.PositiveIntegerField(
        _("catalogue price"),
        null=True,
        blank=True,
        help_text=_("The reward's points cost before a member discount (empty: no discount)."),
    )
    discount_source = models.CharField(
        _("discount from"),
        max_length=60,
        blank=True,
        help_text=_("What gave the member a lower price, e.g. 'club:plus' (a paid club)."),
    )

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("cancel_redemption", "Can cancel redemptions and mark vouchers used"),
            ("export_redemption", "Can export redemptions"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["reward", "points_payment"]),
                name="rewards_redemption_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["completed", "cancelled"]),
                name="rewards_redemption_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["store", "web", "app", "api", "admin"]),
                name="rewards_redemption_channel_valid",
            ),
            models.CheckConstraint(
                condition=Q(points__gte=1), name="rewards_redemption_points_positive"
            ),
            models.CheckConstraint(
                condition=~Q(kind="reward") | Q(reward__isnull=False),
                name="rewards_redemption_reward_set",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="rewards_redemption_cancel_time_set",
            ),
            models.UniqueConstraint(
                fields=["member", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="rewards_redemption_idempotency_unique",
            ),
            models.CheckConstraint(
                condition=Q(batch_quantity__gte=1),
                name="rewards_redemption_batch_quantity_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "reward", "status"], name="rewards_red_member_idx"),
        ]

    def __str__(self) -> str:
        what = self.reward.name if self.reward_id and self.reward else "points payment"
        return _("#%(pk)s %(what)s (%(points)s pts)") % {
            "pk": self.pk,
            "what": what,
            "points": self.points,
        }


class Donation(BaseModel):
    """Points a member gave to a cause through a donation reward (one per redemption, no
    voucher). `points` is what left the member's account (the redemption's ledger entry);
    `matched_points` is the brand's own matching gift, recorded here only: it is never posted to
    any member's points. Values are points x the programme's point value at the time."""

    redemption = models.OneToOneField(
        Redemption,
        on_delete=models.PROTECT,
        related_name="donation",
        verbose_name=_("redemption"),
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    cause = models.ForeignKey(
        Cause, on_delete=models.PROTECT, related_name="donations", verbose_name=_("cause")
    )
    points = models.PositiveIntegerField(_("points given"))
    value = models.DecimalField(_("value"), **MONEY, help_text=_("Points x point value."))
    matching = models.PositiveSmallIntegerField(
        _("brand matching"), default=0, help_text=_("The cause's matching factor at the time.")
    )
    matched_points = models.PositiveIntegerField(_("brand-matched points"), default=0)
    matched_value = models.DecimalField(_("brand-matched value"), **MONEY, default=Decimal("0"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("donation")
        verbose_name_plural = _("donations")
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gte=1), name="rewards_donation_points_positive"
            ),
            models.CheckConstraint(
                condition=Q(matching__in=[0, 1, 2])
                & Q(matched_points=models.F("points") * models.F("matching")),
                name="rewards_donation_matching_consistent",
            ),
        ]
        indexes = [models.Index(fields=["cause", "created_at"], name="rewards_donation_cause_idx")]

    def __str__(self) -> str:
        return str(
            _("%(points)s points to %(cause)s (%(day)s)")
            % {
                "points": self.points,
                "cause": self.cause,
                "day": format_day(self.created_at),  # in the programme's time zone
            }
        )


class VoucherBatch(BaseModel):
    """Pre-printed voucher codes (cards, gift books) imported from CSV. Each code becomes an
    unissued voucher of `reward`, valid until the end of `valid_until`; staff or a till then
    issue one to a member (bound to them) or sell it (anyone may use it)."""

    name = models.CharField(
        _("name"), max_length=120, help_text=_("e.g. 'Christmas gift cards 2026, print run 1'.")
    )
    reward = models.ForeignKey(
        Reward,
        on_delete=models.PROTECT,
        related_name="voucher_batches",
        verbose_name=_("reward"),
        help_text=_("What each voucher of the batch gives."),
    )
    valid_until = models.DateField(
        _("valid until"),
        help_text=_(
            "The last day printed on the vouchers, e.g. 31 Dec 2027: they work all of that day "
            "in the programme's time zone."
        ),
    )
    file_name = models.CharField(_("file"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("imported by"),
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("pre-printed voucher batch")
        verbose_name_plural = _("pre-printed voucher batches")

    def __str__(self) -> str:
        return f"{self.name} ({self.reward})"


class Voucher(BaseModel):
    class Status(models.TextChoices):
        UNISSUED = "unissued", _("Printed, not issued yet")
        ISSUED = "issued", _("Issued")
        USED = "used", _("Used")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    redemption = models.OneToOneField(
        Redemption,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="voucher",
        verbose_name=_("redemption"),
    )
    batch = models.ForeignKey(
        VoucherBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="vouchers",
        verbose_name=_("pre-printed batch"),
    )
    gift_reward = models.ForeignKey(
        Reward,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="gift_vouchers",
        verbose_name=_("given reward"),
        help_text=_("A voucher given free (a campaign's birthday or win-back gift): no points."),
    )
    gift_key = models.CharField(
        _("gift reference"),
        max_length=120,
        blank=True,
        default="",
        help_text=_("Who gave it and why, e.g. campaign:12:birthday:2027:345; given once."),
    )
    member = models.ForeignKey(
        "members.Member",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("member"),
    )
    member_bound = models.BooleanField(
        _("only for this member"),
        default=False,
        help_text=_("Only the voucher's member may use it; a till must identify them."),
    )
    issued_at = models.DateTimeField(_("issued or sold at"), null=True, blank=True)
    sale_ref = models.CharField(
        _("sale reference"),
        max_length=100,
        blank=True,
        help_text=_("Receipt of the sale of a pre-printed voucher."),
    )
    code = models.CharField(max_length=20, unique=True, verbose_name=_("code"))
    partner_code = models.CharField(max_length=100, blank=True, verbose_name=_("partner code"))
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ISSUED, verbose_name=_("status")
    )
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("used at"))
    order_ref = models.CharField(max_length=100, blank=True, verbose_name=_("order ref"))
    used_channel = models.CharField(max_length=10, blank=True, verbose_name=_("used channel"))
    used_store = models.ForeignKey(
        "members.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("used store"),
    )
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("used by"),
    )
    note = models.CharField(
        max_length=300,
        blank=True,
        help_text=_("Staff reason, undo reason."),
        verbose_name=_("note"),
    )

    class Meta:
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["unissued", "issued", "used", "expired", "cancelled"]),
                name="rewards_voucher_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(redemption__isnull=False)
                | Q(batch__isnull=False)
                | Q(gift_reward__isnull=False),
                name="rewards_voucher_has_source",
            ),
            models.CheckConstraint(
                condition=Q(gift_reward__isnull=True) | Q(member__isnull=False),
                name="rewards_voucher_gift_has_member",
            ),
            models.UniqueConstraint(
                fields=["gift_key"],
                condition=~Q(gift_key=""),
                name="rewards_voucher_gift_once",
            ),
            models.CheckConstraint(
                condition=Q(redemption__isnull=True) | Q(member__isnull=False),
                name="rewards_voucher_redeemed_has_member",
            ),
            models.CheckConstraint(
                condition=~Q(status="unissued") | Q(member__isnull=True),
                name="rewards_voucher_unissued_has_no_member",
            ),
            models.CheckConstraint(
                condition=Q(member_bound=False) | Q(member__isnull=False),
                name="rewards_voucher_bound_has_member",
            ),
            models.CheckConstraint(
                condition=~Q(status="used")
                | (Q(used_at__isnull=False) & (~Q(order_ref="") | ~Q(note=""))),
                name="rewards_voucher_used_has_reference",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "status"], name="rewards_voucher_member_idx"),
            models.Index(
                fields=["expires_at"],
                condition=Q(status="issued"),
                name="rewards_voucher_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.display_code

    @property
    def reward(self) -> Reward | None:
        """What the voucher gives: the redeemed reward, or the batch's (pre-printed)."""
        if self.redemption_id is not None:
            return self.redemption.reward  # type: ignore[union-attr]
        if self.gift_reward_id is not None:
            return self.gift_reward
        return self.batch.reward if self.batch_id is not None else None  # type: ignore[union-attr]

    @property
    def display_code(self) -> str:
        """XXXX-XXXX-XXXX: easier to read aloud and type."""
        return "-".join(self.code[i : i + 4] for i in range(0, len(self.code), 4))

    display_code.fget.short_description = _("voucher code")  # type: ignore[attr-defined]
