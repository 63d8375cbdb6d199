"""The points ledger.

Invariants (the database enforces what it can; services enforce the rest under the account lock):
- LedgerEntry rows are append-only: the queryset, the model, the admin and (on PostgreSQL) a
  trigger refuse UPDATE and DELETE. A correction is a new entry (ADJUST, or REVERSAL/REFUND
  pointing at the entry it undoes through `reverses`, at most once per entry).
- For every account: balance = SUM(entries.amount) = SUM(lots.remaining) - debt, and the latest
  entry's balance_after = balance. `manage.py reconcile_ledger` proves it.
- Points are integers; an entry's sign matches its kind; (account, idempotency_key) is unique.
- Lots: every credit creates a PointsLot; every debit consumes lots (soonest expiry first, lots
  without expiry last) and records one LotAllocation per lot it touched, so a refund puts points
  back exactly where they came from. 0 <= remaining <= amount.
- Debt (>= 0) exists only when every lot is empty: a return that reverses points already spent
  (return policy "debt"); the next credits repay it first.
- (channel, external_id) of a Transaction is unique: reporting a purchase twice has one effect.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any, NoReturn
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from loyalty.core.channels import SalesChannel
from loyalty.core.formatting import format_day
from loyalty.core.models import BaseModel
from members.identifiers import validate_phone_region

MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}
POSITIVE_MONEY = [MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("999999999.99"))]


def phone_region_default() -> str:
    """The first value of the phone region: the environment's PHONE_DEFAULT_REGION."""
    return str(settings.PHONE_DEFAULT_REGION)


class ProgrammeSettings(BaseModel):
    """Single row (pk=1): the programme's earning, pending, expiry and return policies."""

    class Rounding(models.TextChoices):
        FLOOR = "floor", _("Round down (per transaction)")
        HALF_UP = "half_up", _("Round half up (per transaction)")

    class ExpiryPolicy(models.TextChoices):
        MONTHS_AFTER = "months_after", _("N months after the points become available")
        DAYS_AFTER = "days_after", _("N days after the points become available")
        END_OF_NEXT_YEAR = "end_of_next_year", _("End of the calendar year after earning")
        NEVER = "never", _("Never")

    class ReturnPolicy(models.TextChoices):
        DEBT = "debt", _("Debt: the balance may go negative; later earnings repay it first")
        CAP = "cap", _("Cap: reverse what is left and record the shortfall")

    name = models.CharField(max_length=100, default="Loyalty programme", verbose_name=_("name"))
    currency = models.CharField(max_length=3, default="GBP", verbose_name=_("currency"))
    points_per_unit = models.DecimalField(
        max_digits=8,
        decimal_places=4,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Base rate: points per currency unit of eligible spend."),
        verbose_name=_("points per unit"),
    )
    rounding = models.CharField(
        max_length=10, choices=Rounding.choices, default=Rounding.FLOOR, verbose_name=_("rounding")
    )
    minimum_spend = models.DecimalField(
        **MONEY,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        verbose_name=_("minimum spend"),
    )
    pending_days = models.PositiveIntegerField(
        default=14,
        help_text=_("Return window: earned points are pending this many days (0: at once)."),
        verbose_name=_("pending days"),
    )
    expiry_policy = models.CharField(
        max_length=20,
        choices=ExpiryPolicy.choices,
        default=ExpiryPolicy.MONTHS_AFTER,
        verbose_name=_("expiry policy"),
    )
    expiry_months = models.PositiveIntegerField(
        default=24, validators=[MaxValueValidator(240)], verbose_name=_("expiry months")
    )
    expiry_days = models.PositiveIntegerField(
        _("expiry in days"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_(
            "With 'N days after the points become available': how many days points stay valid, "
            "e.g. 90 (points available on 1 March can be spent until the end of 30 May)."
        ),
    )
    expiry_warning_days = models.PositiveIntegerField(
        default=30, verbose_name=_("expiry warning days")
    )
    point_value = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal("0.01"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Money value of one point (liability, paying with points)."),
        verbose_name=_("point value"),
    )
    return_policy = models.CharField(
        max_length=10,
        choices=ReturnPolicy.choices,
        default=ReturnPolicy.DEBT,
        verbose_name=_("return policy"),
    )
    time_zone = models.CharField(
        max_length=64, default="Europe/London", verbose_name=_("time zone")
    )
    excluded_skus = models.JSONField(
        default=list,
        blank=True,
        help_text=_("SKUs that earn nothing."),
        verbose_name=_("excluded skus"),
    )
    phone_region = models.CharField(
        _("phone region"),
        max_length=2,
        default=phone_region_default,
        validators=[validate_phone_region],
        help_text=_(
            "Where phone numbers typed without a country code are from, e.g. GB reads "
            "07911 123456 as +44 7911 123456 and CN reads 138 0013 8000 as +86 138 0013 8000. "
            "Numbers are stored with their country code, so changing it moves no member."
        ),
    )
    excluded_categories = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Categories that earn nothing (gift cards, tobacco...)."),
        verbose_name=_("excluded categories"),
    )

    history = HistoricalRecords()  # audit trail: who changed what, when

    class Meta:
        verbose_name = _("programme settings")
        verbose_name_plural = _("programme settings")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="ledger_programmesettings_single_row"),
            models.CheckConstraint(
                condition=Q(rounding__in=["floor", "half_up"]),
                name="ledger_programmesettings_rounding_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    expiry_policy__in=["months_after", "days_after", "end_of_next_year", "never"]
                ),
                name="ledger_programmesettings_expiry_valid",
            ),
            models.CheckConstraint(
                condition=~Q(expiry_policy="days_after")
                | Q(expiry_days__isnull=False, expiry_days__gte=1),
                name="ledger_programmesettings_days_policy_has_days",
            ),
            models.CheckConstraint(
                condition=Q(return_policy__in=["debt", "cap"]),
                name="ledger_programmesettings_return_policy_valid",
            ),
            models.CheckConstraint(
                condition=Q(points_per_unit__gte=0) & Q(point_value__gte=0),
                name="ledger_programmesettings_rates_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str | Promise] = {}
        if self.time_zone not in available_timezones():
            errors["time_zone"] = f"Unknown time zone {self.time_zone!r} (e.g. Europe/London)."
        for field in ("excluded_skus", "excluded_categories"):
            value = getattr(self, field)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors[field] = "A list of strings."
        if self.expiry_policy == self.ExpiryPolicy.MONTHS_AFTER and not self.expiry_months:
            errors["expiry_months"] = "Give the number of months (or choose 'never')."
        if self.expiry_policy == self.ExpiryPolicy.DAYS_AFTER and not self.expiry_days:
            errors["expiry_days"] = _("Give the number of days, e.g. 90 (or choose 'never').")
        if errors:
            raise ValidationError(errors)


class PointsAccount(BaseModel):
    member = models.OneToOneField(
        "members.Member",
        on_delete=models.PROTECT,
        related_name="points_account",
        verbose_name=_("member"),
    )
    balance = models.BigIntegerField(default=0, verbose_name=_("balance"))
    debt = models.BigIntegerField(default=0, verbose_name=_("debt"))
    lifetime_earned = models.BigIntegerField(default=0, verbose_name=_("lifetime earned"))

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(debt__gte=0), name="ledger_account_debt_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(balance__gte=-F("debt")), name="ledger_account_balance_covers_debt"
            ),
            models.CheckConstraint(
                condition=Q(lifetime_earned__gte=0), name="ledger_account_lifetime_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return _("Account of member %(member_id)s: %(balance)s") % {
            "member_id": self.member_id,
            "balance": self.balance,
        }


class LedgerEntryQuerySet(models.QuerySet["LedgerEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise TypeError("Ledger entries are append-only: post a correcting entry instead.")

    def delete(self) -> NoReturn:
        raise TypeError("Ledger entries are append-only: post a correcting entry instead.")


class LedgerEntry(models.Model):
    class Kind(models.TextChoices):
        EARN = "earn", _("Earn")
        BONUS = "bonus", _("Bonus")
        REDEEM = "redeem", _("Redeem")
        REFUND = "refund", _("Refund of a redemption")
        ADJUST = "adjust", _("Adjustment")
        EXPIRE = "expire", _("Expiry")
        REVERSAL = "reversal", _("Reversal (return)")
        OPENING_BALANCE = "opening_balance", _("Opening balance")

    CREDIT_KINDS = ("earn", "bonus", "refund", "opening_balance")
    DEBIT_KINDS = ("redeem", "expire")

    # no index of its own: ledger_entry_statement and the idempotency key lead with account_id
    account = models.ForeignKey(
        PointsAccount,
        on_delete=models.PROTECT,
        related_name="entries",
        db_index=False,
        verbose_name=_("account"),
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("kind"))
    amount = models.BigIntegerField(verbose_name=_("amount"))
    balance_after = models.BigIntegerField(verbose_name=_("balance after"))
    source_type = models.CharField(max_length=40, blank=True, verbose_name=_("source type"))
    source_id = models.CharField(max_length=64, blank=True, verbose_name=_("source id"))
    idempotency_key = models.CharField(max_length=120, verbose_name=_("idempotency key"))
    # no full index: ledger_entry_single_reversal (unique, WHERE reverses_id IS NOT NULL)
    # answers every `reverses = X` lookup, and the NULL of every other entry is not written
    reverses = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        db_index=False,
        verbose_name=_("reverses"),
    )
    reason = models.CharField(max_length=255, blank=True, verbose_name=_("reason"))
    rules = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Rules that produced the points."),
        verbose_name=_("rules"),
    )
    metadata = models.JSONField(default=dict, blank=True, verbose_name=_("metadata"))
    # indexed only where set (ledger_entry_created_by, partial): system entries have no actor
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("created by"),
    )
    effective_at = models.DateTimeField(default=timezone.now, verbose_name=_("effective at"))
    created_at = models.DateTimeField(
        auto_now_add=True, db_index=True, verbose_name=_("created at")
    )

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        verbose_name_plural = _("ledger entries")
        ordering = ["-effective_at", "-id"]
        permissions = [
            ("adjust_points", "Can adjust members' points with a reason"),
            ("export_ledgerentry", "Can export ledger entries"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_amount_non_zero"),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "earn",
                        "bonus",
                        "redeem",
                        "refund",
                        "adjust",
                        "expire",
                        "reversal",
                        "opening_balance",
                    ]
                ),
                name="ledger_entry_kind_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["earn", "bonus", "refund", "opening_balance"], amount__gt=0)
                    | Q(kind__in=["redeem", "expire"], amount__lt=0)
                    | Q(kind__in=["adjust", "reversal"])
                ),
                name="ledger_entry_sign_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["account", "idempotency_key"], name="ledger_entry_unique_idempotency"
            ),
            models.UniqueConstraint(
                fields=["reverses"],
                condition=Q(reverses__isnull=False),
                name="ledger_entry_single_reversal",
            ),
            models.CheckConstraint(
                condition=Q(kind="adjust", created_by__isnull=False) | ~Q(kind="adjust"),
                name="ledger_entry_adjust_has_actor",
            ),
            models.CheckConstraint(
                condition=~Q(kind="adjust") | ~Q(reason=""), name="ledger_entry_adjust_has_reason"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "effective_at", "id"], name="ledger_entry_statement"),
            models.Index(fields=["source_type", "source_id"], name="ledger_entry_source"),
            # covering (PostgreSQL): the KPI snapshot job sums a range's entries by kind and
            # account from the index alone, without reading the entries' rows
            models.Index(
                fields=["kind", "effective_at"],
                include=["account", "amount"],
                name="ledger_entry_kind_time",
            ),
            models.Index(
                fields=["created_by"],
                condition=Q(created_by__isnull=False),
                name="ledger_entry_created_by",
            ),
        ]

    def __str__(self) -> str:
        return _("%(kind)s %(amount)s (account %(account)s)") % {
            "kind": self.get_kind_display(),
            "amount": f"{self.amount:+d}",
            "account": self.account_id,
        }

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("Ledger entries are append-only: post a correcting entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("Ledger entries are append-only: post a correcting entry instead.")


class PointsLot(models.Model):
    """What is left of one credit. A projection of the ledger, changed only under the account lock."""

    account = models.ForeignKey(
        PointsAccount, on_delete=models.PROTECT, related_name="lots", verbose_name=_("account")
    )
    entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, related_name="lot", verbose_name=_("entry")
    )
    amount = models.BigIntegerField(verbose_name=_("amount"))
    remaining = models.BigIntegerField(verbose_name=_("remaining"))
    available_from = models.DateTimeField(verbose_name=_("available from"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))

    class Meta:
        verbose_name = _("points lot")
        verbose_name_plural = _("points lots")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_lot_amount_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("amount")),
                name="ledger_lot_remaining_in_range",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=F("available_from")),
                name="ledger_lot_expires_after_available",
            ),
        ]
        indexes = [
            models.Index(
                fields=["account", "expires_at", "id"],
                condition=Q(remaining__gt=0),
                name="ledger_lot_open_by_account",
            ),
            models.Index(
                fields=["expires_at"], condition=Q(remaining__gt=0), name="ledger_lot_open_expiry"
            ),
        ]

    def __str__(self) -> str:
        return _("lot %(pk)s: %(remaining)s/%(amount)s") % {
            "pk": self.pk,
            "remaining": self.remaining,
            "amount": self.amount,
        }


class LotAllocation(models.Model):
    """Which lots a debit consumed (or a refund restored), and how many points of each."""

    # no index of its own: ledger_allocation_once_per_lot (entry, lot) leads with it
    entry = models.ForeignKey(
        LedgerEntry,
        on_delete=models.PROTECT,
        related_name="allocations",
        db_index=False,
        verbose_name=_("entry"),
    )
    lot = models.ForeignKey(
        PointsLot, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("lot")
    )
    points = models.BigIntegerField(verbose_name=_("points"))

    class Meta:
        verbose_name = _("lot allocation")
        verbose_name_plural = _("lot allocations")
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="ledger_allocation_positive"),
            models.UniqueConstraint(fields=["entry", "lot"], name="ledger_allocation_once_per_lot"),
        ]

    def __str__(self) -> str:
        return _("entry %(entry_id)s / lot %(lot_id)s: %(points)s") % {
            "entry_id": self.entry_id,
            "lot_id": self.lot_id,
            "points": self.points,
        }


class Transaction(BaseModel):
    """A purchase or a return reported by a store or channel (members and anonymous customers)."""

    class Kind(models.TextChoices):
        PURCHASE = "purchase", _("Purchase")
        RETURN = "return", _("Return")

    Channel = SalesChannel

    kind = models.CharField(max_length=10, choices=Kind.choices, verbose_name=_("kind"))
    channel = models.CharField(max_length=10, choices=Channel.choices, verbose_name=_("channel"))
    external_id = models.CharField(max_length=64, verbose_name=_("external id"))
    # member and store: no index of their own, ledger_txn_member_time / ledger_txn_store_time
    # lead with them (one index less to write on every purchase)
    member = models.ForeignKey(
        "members.Member",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
        db_index=False,
        verbose_name=_("member"),
    )
    store = models.ForeignKey(
        "members.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
        db_index=False,
        verbose_name=_("store"),
    )
    original = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="returns",
        verbose_name=_("original"),
    )
    occurred_at = models.DateTimeField(verbose_name=_("occurred at"))
    amount = models.DecimalField(**MONEY, validators=POSITIVE_MONEY, verbose_name=_("amount"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    points_spent = models.BigIntegerField(
        default=0, help_text=_("Points used to pay part of it."), verbose_name=_("points spent")
    )
    amount_paid_with_points = models.DecimalField(
        **MONEY, default=Decimal("0"), verbose_name=_("amount paid with points")
    )
    eligible_amount = models.DecimalField(
        **MONEY, default=Decimal("0"), verbose_name=_("eligible amount")
    )
    points_earned = models.BigIntegerField(
        default=0, help_text=_("Purchase: earn + bonus points."), verbose_name=_("points earned")
    )
    points_reversed = models.BigIntegerField(
        default=0, help_text=_("Return: points taken back."), verbose_name=_("points reversed")
    )
    points_refunded = models.BigIntegerField(
        default=0,
        help_text=_("Return: spent points given back."),
        verbose_name=_("points refunded"),
    )
    points_uncollected = models.BigIntegerField(
        default=0,
        help_text=_(
            "Purchase: points the caps withheld. Return, cap policy: points it should have "
            "reversed but were already spent."
        ),
        verbose_name=_("points uncollected"),
    )
    customer_ref = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("Identified non-member (for the enrolment-rate KPI)."),
        verbose_name=_("customer ref"),
    )
    promo_code = models.ForeignKey(
        "PromoCode",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
        verbose_name=_("promo code"),
        help_text=_("The promo code this purchase used (set only when its rule applied)."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], name="ledger_transaction_unique_external_id"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["purchase", "return"]), name="ledger_transaction_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["store", "web", "app", "import", "api"]),
                name="ledger_transaction_channel_valid",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="ledger_transaction_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(kind="return") | Q(original__isnull=True),
                name="ledger_transaction_only_returns_have_original",
            ),
            models.CheckConstraint(
                condition=Q(amount_paid_with_points__gte=0)
                & Q(amount_paid_with_points__lte=F("amount")),
                name="ledger_transaction_points_part_in_range",
            ),
            models.CheckConstraint(
                condition=Q(points_spent__gte=0)
                & Q(points_earned__gte=0)
                & Q(points_reversed__gte=0)
                & Q(points_refunded__gte=0),
                name="ledger_transaction_points_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(points_uncollected__gte=0),
                name="ledger_transaction_uncollected_non_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "occurred_at"], name="ledger_txn_member_time"),
            # covering (PostgreSQL): the KPIs over a range of purchases (distinct members, the
            # daily snapshot) read the index alone instead of the transactions' wide rows
            models.Index(
                fields=["occurred_at"],
                include=["kind", "member", "store", "amount", "customer_ref"],
                name="ledger_txn_time",
            ),
            models.Index(fields=["store", "occurred_at"], name="ledger_txn_store_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.channel}:{self.external_id} {self.amount}"


class TransactionLine(models.Model):
    transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, related_name="lines", verbose_name=_("transaction")
    )
    sku = models.CharField(max_length=64, verbose_name=_("sku"))
    category = models.CharField(max_length=64, blank=True, verbose_name=_("category"))
    quantity = models.DecimalField(max_digits=12, decimal_places=3, verbose_name=_("quantity"))
    unit_price = models.DecimalField(max_digits=14, decimal_places=3, verbose_name=_("unit price"))
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))

    class Meta:
        verbose_name = _("transaction line")
        verbose_name_plural = _("transaction lines")
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="ledger_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="ledger_line_price_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class EarningRule(BaseModel):
    """A rule of the earning engine, edited by marketing (see docs/ledger.md for the order)."""

    class Kind(models.TextChoices):
        MULTIPLIER = "multiplier", _("Multiply points")
        FIXED_BONUS = "fixed_bonus", _("Fixed bonus points")
        MINIMUM_SPEND = "minimum_spend", _("Minimum spend to earn")
        CAP_TRANSACTION = "cap_transaction", _("Cap per transaction")
        CAP_DAY = "cap_day", _("Cap per member per day")
        CAP_MONTH = "cap_month", _("Cap per member per month")

    name = models.CharField(max_length=120, verbose_name=_("name"))
    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("kind"))
    active = models.BooleanField(default=True, verbose_name=_("active"))

    class UsagePeriod(models.TextChoices):
        DAY = "day", _("Day")
        WEEK = "week", _("Week (Monday to Sunday)")
        MONTH = "month", _("Calendar month")
        YEAR = "year", _("Calendar year")

    priority = models.PositiveSmallIntegerField(
        default=100,
        help_text=_(
            "Rules run from the lowest number up; rules with the same number run in the order "
            "they were created. E.g. 10 runs before 100."
        ),
        verbose_name=_("priority"),
    )
    stop_further = models.BooleanField(
        _("stop further rules"),
        default=False,
        help_text=_(
            "When this rule applies to a purchase, multiplier and bonus rules with a higher "
            "priority number are not applied to it (minimum spend and point caps still are). "
            "E.g. a 'Gift cards earn nothing' rule at priority 1."
        ),
    )
    multiplier = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_(
            "Multiplier rules: points on what the rule matches are multiplied by this. 0 means "
            "it earns nothing (e.g. gift cards), 1 changes nothing, 2 doubles. Leave empty for "
            "other kinds."
        ),
        verbose_name=_("multiplier"),
    )
    points = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Bonus or cap, in points."), verbose_name=_("points")
    )
    amount = models.DecimalField(
        **MONEY, null=True, blank=True, help_text=_("Minimum spend."), verbose_name=_("amount")
    )
    skus = models.JSONField(default=list, blank=True, verbose_name=_("skus"))
    categories = models.JSONField(default=list, blank=True, verbose_name=_("categories"))
    store_codes = models.JSONField(default=list, blank=True, verbose_name=_("store codes"))
    channels = models.JSONField(default=list, blank=True, verbose_name=_("channels"))
    weekdays = models.JSONField(
        default=list,
        blank=True,
        help_text=_("0 = Monday ... 6 = Sunday."),
        verbose_name=_("weekdays"),
    )
    starts_at = models.DateTimeField(null=True, blank=True, verbose_name=_("starts at"))
    ends_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ends at"))
    # conditions: all that are set must hold for the rule to apply
    min_quantity = models.DecimalField(
        _("minimum quantity"),
        max_digits=12,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text=_(
            "Applies only when the basket holds at least this many items matching the rule's "
            "SKUs/categories (all items if none are set). E.g. 3 for 'buy 3 shirts'."
        ),
    )
    min_matching_amount = models.DecimalField(
        _("minimum amount of matching items"),
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_(
            "Applies only when the lines matching the rule's SKUs/categories (all lines if none "
            "are set) come to at least this much money. E.g. 50.00."
        ),
    )
    required_skus = models.JSONField(
        _("requires one of these products"),
        default=list,
        blank=True,
        help_text=_(
            "Applies only when the basket holds at least one of these SKUs, e.g. "
            '["85123A"]. Empty: no such condition.'
        ),
    )
    requires_promo_code = models.BooleanField(
        _("requires a promo code"),
        default=False,
        help_text=_(
            "Applies only to purchases that carry one of this rule's promo codes (add them "
            "under Promo codes)."
        ),
    )
    # usage caps: how often the rule may apply (counted per purchase it applied to)
    max_uses_total = models.PositiveIntegerField(
        _("maximum uses in total"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "The rule applies to at most this many purchases in all. E.g. 1000 for 'the first "
            "1,000 purchases'. Empty: no limit."
        ),
    )
    max_uses_per_member = models.PositiveIntegerField(
        _("maximum uses per member"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Each member gets this rule on at most this many purchases, ever. E.g. 1 for a "
            "one-time welcome bonus. Empty: no limit."
        ),
    )
    max_uses_per_period = models.PositiveIntegerField(
        _("maximum uses per member per period"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Each member gets this rule on at most this many purchases per period (below). "
            "E.g. 2 per week. Empty: no limit."
        ),
    )
    usage_period = models.CharField(
        _("usage period"),
        max_length=5,
        choices=UsagePeriod.choices,
        blank=True,
        help_text=_(
            "The period of 'maximum uses per member per period', in the programme's time zone."
        ),
    )

    history = HistoricalRecords()  # audit trail: who changed what, when

    class Meta:
        verbose_name = _("earning rule")
        verbose_name_plural = _("earning rules")
        ordering = ["priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "multiplier",
                        "fixed_bonus",
                        "minimum_spend",
                        "cap_transaction",
                        "cap_day",
                        "cap_month",
                    ]
                ),
                name="ledger_earningrule_kind_valid",
            ),
            models.CheckConstraint(
                condition=~Q(kind="multiplier") | Q(multiplier__isnull=False),
                name="ledger_earningrule_multiplier_given",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["fixed_bonus", "cap_transaction", "cap_day", "cap_month"])
                | Q(points__isnull=False),
                name="ledger_earningrule_points_given",
            ),
            models.CheckConstraint(
                condition=~Q(kind="minimum_spend") | Q(amount__isnull=False),
                name="ledger_earningrule_amount_given",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gt=F("starts_at")),
                name="ledger_earningrule_window_valid",
            ),
            models.CheckConstraint(
                condition=Q(usage_period__in=["", "day", "week", "month", "year"]),
                name="ledger_earningrule_usage_period_valid",
            ),
            models.CheckConstraint(
                condition=(Q(max_uses_total__isnull=True) | Q(max_uses_total__gte=1))
                & (Q(max_uses_per_member__isnull=True) | Q(max_uses_per_member__gte=1))
                & (Q(max_uses_per_period__isnull=True) | Q(max_uses_per_period__gte=1)),
                name="ledger_earningrule_usage_caps_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_uses_per_period__isnull=True, usage_period="")
                | (Q(max_uses_per_period__isnull=False) & ~Q(usage_period="")),
                name="ledger_earningrule_usage_period_given",
            ),
            models.CheckConstraint(
                condition=Q(min_quantity__isnull=True) | Q(min_quantity__gt=0),
                name="ledger_earningrule_min_quantity_positive",
            ),
            models.CheckConstraint(
                condition=Q(min_matching_amount__isnull=True) | Q(min_matching_amount__gt=0),
                name="ledger_earningrule_min_amount_positive",
            ),
        ]

    @property
    def has_usage_caps(self) -> bool:
        return bool(self.max_uses_total or self.max_uses_per_member or self.max_uses_per_period)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str | Promise] = {}
        for field in ("skus", "categories", "store_codes", "channels"):
            value = getattr(self, field)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors[field] = "A list of strings."
        if not isinstance(self.weekdays, list) or not all(
            isinstance(v, int) and 0 <= v <= 6 for v in self.weekdays
        ):
            errors["weekdays"] = "A list of numbers from 0 (Monday) to 6 (Sunday)."
        unknown = (
            set(self.channels or []) - set(Transaction.Channel.values)
            if isinstance(self.channels, list)
            else set()
        )
        if unknown:
            errors["channels"] = f"Unknown channels: {', '.join(sorted(unknown))}."
        needs = {
            self.Kind.MULTIPLIER: "multiplier",
            self.Kind.FIXED_BONUS: "points",
            self.Kind.CAP_TRANSACTION: "points",
            self.Kind.CAP_DAY: "points",
            self.Kind.CAP_MONTH: "points",
            self.Kind.MINIMUM_SPEND: "amount",
        }
        field = needs.get(self.kind)  # type: ignore[call-overload]
        if field and getattr(self, field) is None:
            errors[field] = f"Required for a {self.get_kind_display().lower()} rule."
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "Must be after the start."
        if not isinstance(self.required_skus, list) or not all(
            isinstance(v, str) for v in self.required_skus
        ):
            errors["required_skus"] = _('A list of SKUs, e.g. ["85123A"].')
        for cap in ("max_uses_total", "max_uses_per_member", "max_uses_per_period"):
            if getattr(self, cap) == 0:
                errors[cap] = _("A cap of 0 would switch the rule off: untick 'active' instead.")
        if self.max_uses_per_period and not self.usage_period:
            errors["usage_period"] = _("Choose the period the per-period cap counts in.")
        if self.usage_period and not self.max_uses_per_period:
            errors["max_uses_per_period"] = _("Give the number of uses per period.")
        reward_kinds = (self.Kind.MULTIPLIER, self.Kind.FIXED_BONUS)
        if self.kind not in reward_kinds:
            for name in (
                "max_uses_total",
                "max_uses_per_member",
                "max_uses_per_period",
                "stop_further",
                "requires_promo_code",
                "min_quantity",
                "min_matching_amount",
                "required_skus",
            ):
                if getattr(self, name):
                    errors.setdefault(
                        name, _("Only multiplier and fixed bonus rules take this option.")
                    )
        if errors:
            raise ValidationError(errors)

    def describe(self) -> str:
        """The rule in words, as staff read it on the rules list and in the simulator:
        "x1.5 on Saturday and Sunday, at stores LDN01 and LDN02, until 31 Dec 2026"."""
        return ", ".join(str(part) for part in [self.describe_effect(), *self.describe_scope()])

    def describe_effect(self) -> str:
        kind = self.Kind
        if self.kind == kind.MULTIPLIER:
            return _("x%(m)s points") % {"m": _number(self.multiplier)}
        if self.kind == kind.FIXED_BONUS:
            return _("+%(p)s bonus points") % {"p": _number(self.points)}
        if self.kind == kind.MINIMUM_SPEND:
            return _("no points below a spend of %(a)s") % {"a": _number(self.amount)}
        if self.kind == kind.CAP_TRANSACTION:
            return _("at most %(p)s points per purchase") % {"p": _number(self.points)}
        if self.kind == kind.CAP_DAY:
            return _("at most %(p)s points per member per day") % {"p": _number(self.points)}
        if self.kind == kind.CAP_MONTH:
            return _("at most %(p)s points per member per month") % {"p": _number(self.points)}
        return str(self.kind)

    def describe_scope(self) -> list[str]:
        parts = []
        if self.skus:
            parts.append(_("on SKU %(list)s") % {"list": _and(self.skus)})
        if self.categories:
            parts.append(_("on category %(list)s") % {"list": _and(self.categories)})
        if self.weekdays:
            days = [str(WEEKDAY_NAMES[d]) for d in sorted(self.weekdays) if 0 <= d <= 6]
            parts.append(_("on %(list)s") % {"list": _and(days)})
        if self.store_codes:
            word = _("store") if len(self.store_codes) == 1 else _("stores")
            parts.append(_("at %(word)s %(list)s") % {"word": word, "list": _and(self.store_codes)})
        if self.channels:
            labels = dict(Transaction.Channel.choices)
            names = [str(labels.get(c, c)) for c in self.channels]
            parts.append(_("through %(list)s") % {"list": _and(names)})
        start = timezone.localtime(self.starts_at) if self.starts_at else None
        # ends_at is the first instant the rule no longer applies: staff read the last day
        end = timezone.localtime(self.ends_at - timedelta(microseconds=1)) if self.ends_at else None
        if start and end:
            parts.append(
                _("from %(start)s until %(end)s")
                % {"start": format_day(start), "end": format_day(end)}
            )
        elif start:
            parts.append(_("from %(start)s") % {"start": format_day(start)})
        elif end:
            parts.append(_("until %(end)s") % {"end": format_day(end)})
        if not parts:
            parts.append(str(_("on every purchase")))
        return parts


WEEKDAY_NAMES = (
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
)


def _number(value: Any) -> str:
    if value is None:
        return "?"
    if isinstance(value, Decimal):
        value = value.normalize()
        return f"{value:,f}"
    return f"{value:,}"


def _and(items: list[Any]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return _("%(first)s and %(last)s") % {"first": ", ".join(items[:-1]), "last": items[-1]}


class PromoCode(BaseModel):
    """A code a purchase can carry to unlock its rule (single-use or multi-use).

    A code counts as used by a purchase when its rule applied to it (the transaction records the
    code); uses are counted under a lock on the code's row, so a single-use code is never used
    twice, however many tills send it at once."""

    code = models.CharField(
        _("code"),
        max_length=40,
        unique=True,
        help_text=_("What the customer gives at the till, e.g. SPRING25. Stored in capitals."),
    )
    rule = models.ForeignKey(
        EarningRule,
        on_delete=models.PROTECT,
        related_name="promo_codes",
        verbose_name=_("rule"),
        help_text=_("The rule this code unlocks; tick 'requires a promo code' on it."),
    )
    max_uses = models.PositiveIntegerField(
        _("maximum uses"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("1 for a single-use code; e.g. 500 for a limited one; empty: no limit."),
    )
    active = models.BooleanField(_("active"), default=True)
    starts_at = models.DateTimeField(_("valid from"), null=True, blank=True)
    ends_at = models.DateTimeField(
        _("valid until"), null=True, blank=True, help_text=_("Must be after 'valid from'.")
    )

    class Meta:
        verbose_name = _("promo code")
        verbose_name_plural = _("promo codes")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(max_uses__gte=1),
                name="ledger_promocode_max_uses_positive",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gt=F("starts_at")),
                name="ledger_promocode_window_valid",
            ),
            models.CheckConstraint(condition=~Q(code=""), name="ledger_promocode_code_not_empty"),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        errors: dict[str, object] = {}
        self.code = (self.code or "").strip().upper()
        if not self.code:
            errors["code"] = _("Give a code.")
        if self.max_uses == 0:
            errors["max_uses"] = _("A code that can be used 0 times is no code: untick 'active'.")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("Must be after 'valid from'.")
        if errors:
            raise ValidationError(errors)


class EarningRuleUse(models.Model):
    """One purchase a capped rule (or a promo code's rule) applied to: what usage caps count."""

    rule = models.ForeignKey(
        EarningRule, on_delete=models.PROTECT, related_name="uses", verbose_name=_("rule")
    )
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("member"),
    )
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.PROTECT,
        related_name="rule_uses",
        db_index=False,
        verbose_name=_("transaction"),
    )
    used_at = models.DateTimeField(
        help_text=_("When the purchase happened."), verbose_name=_("used at")
    )

    class Meta:
        verbose_name = _("rule use")
        verbose_name_plural = _("rule uses")
        constraints = [
            models.UniqueConstraint(
                fields=["transaction", "rule"], name="ledger_ruleuse_once_per_transaction"
            ),
        ]
        indexes = [
            models.Index(fields=["rule", "member", "used_at"], name="ledger_ruleuse_member"),
        ]

    def __str__(self) -> str:
        return _("rule %(rule_id)s on transaction %(transaction_id)s") % {
            "rule_id": self.rule_id,
            "transaction_id": self.transaction_id,
        }


class MemberPurchaseStats(models.Model):
    """Per-member purchase figures over all of the member's transactions (a read model).

    Maintained in the same transaction as every purchase and return (`_insert` in
    services/transactions.py), by the bulk import, and rebuilt by `manage.py
    rebuild_purchase_stats` (loyalty/ledger/stats.py). Campaign segments read it when they are
    evaluated as of now; historical "as of" questions read the transactions themselves."""

    member = models.OneToOneField(
        "members.Member",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="purchase_stats",
        verbose_name=_("member"),
    )
    purchase_count = models.PositiveIntegerField(
        default=0, help_text=_("Purchases, returns not deducted."), verbose_name=_("purchases")
    )
    spend = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        help_text=_("Purchase amounts minus return amounts."),
        verbose_name=_("net spend"),
    )
    first_purchase_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("first purchase at")
    )
    last_purchase_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("last purchase at")
    )

    class Meta:
        verbose_name = _("member purchase statistics")
        verbose_name_plural = _("member purchase statistics")

    def __str__(self) -> str:
        return _("purchase statistics of member %(member_id)s") % {"member_id": self.member_id}


class NotificationOutbox(BaseModel):
    """Messages to members, written in the same transaction as their cause; sent by a worker."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    kind = models.CharField(max_length=40, verbose_name=_("kind"))
    payload = models.JSONField(default=dict, verbose_name=_("payload"))
    dedupe_key = models.CharField(max_length=120, unique=True, verbose_name=_("dedupe key"))
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sent", "failed"]),
                name="ledger_outbox_status_valid",
            ),
        ]


class PointsExpiryRun(BaseModel):
    """A programme-wide "expire all / reset": every point still live that was earned up to and
    including `as_of_date` (programme time zone) is expired through ledger entries.

    Created with a preview (members, points, liability as of creation), started by staff who may
    run it, executed by a Celery task that reports its progress here; its history is the audit
    entry (who created and started it, why, and what it did).
    """

    class Status(models.TextChoices):
        PREVIEWED = "previewed", _("Previewed, not started")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    as_of_date = models.DateField(
        _("expire points earned up to"),
        help_text=_(
            "Every point earned on or before this day (programme time zone) and not yet spent "
            "or expired is expired, e.g. 2026-12-31 for a year-end reset."
        ),
    )
    reason = models.CharField(
        _("reason"),
        max_length=255,
        help_text=_("Why, shown on every expire entry, e.g. 'Programme relaunch 2027'."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PREVIEWED
    )
    preview_members = models.PositiveIntegerField(_("members (preview)"), default=0)
    preview_points = models.BigIntegerField(_("points (preview)"), default=0)
    preview_liability = models.DecimalField(
        _("liability (preview)"), max_digits=16, decimal_places=2, default=Decimal("0")
    )
    members_done = models.PositiveIntegerField(_("members done"), default=0)
    points_expired = models.BigIntegerField(_("points expired"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True, default="")

    history = HistoricalRecords()  # the audit entry

    class Meta:
        verbose_name = _("points expiry run (expire all)")
        verbose_name_plural = _("points expiry runs (expire all)")
        permissions = [("run_points_expiry", _("Can expire every live point (expire all)"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["previewed", "queued", "running", "done", "failed"]),
                name="ledger_pointsexpiryrun_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(points_expired__gte=0) & Q(preview_points__gte=0),
                name="ledger_pointsexpiryrun_points_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return _("Expire all points earned up to %(day)s (%(status)s)") % {
            "day": format_day(self.as_of_date) if self.as_of_date else "?",
            "status": self.get_status_display(),
        }
