"""Customer service: what sells together, and what members tell us.

- `BoughtTogether`: for each sku, the skus most often in the same purchase (the count of
  purchases holding both), top N per sku. A projection of the ledger's transaction lines,
  rebuilt as a whole by `bought_together_rebuild` (nightly, and `build_bought_together`); never
  edited by hand.
- `Feedback`: a compliment, suggestion or complaint from a member, with its handling (status,
  owner, resolution) and an optional goodwill gesture in points, posted through the ledger's
  `points_adjust` with the feedback as its source and reason.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.core.models import BaseModel

GOODWILL_MAX_POINTS = 100_000


class BoughtTogether(BaseModel):
    sku = models.CharField(_("product (sku)"), max_length=64)
    other_sku = models.CharField(_("bought with (sku)"), max_length=64)
    purchases = models.PositiveIntegerField(
        _("purchases with both"), help_text=_("Purchases whose lines hold both products.")
    )
    rank = models.PositiveSmallIntegerField(
        _("rank"), help_text=_("1 = bought most often with the product; ties by sku.")
    )

    class Meta:
        verbose_name = _("products bought together")
        verbose_name_plural = _("products bought together")
        ordering = ["sku", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["sku", "other_sku"], name="service_bt_unique_pair"),
            models.UniqueConstraint(fields=["sku", "rank"], name="service_bt_unique_rank"),
            models.CheckConstraint(
                condition=~Q(sku=models.F("other_sku")), name="service_bt_not_itself"
            ),
            models.CheckConstraint(condition=Q(purchases__gte=1), name="service_bt_purchases_min"),
            models.CheckConstraint(condition=Q(rank__gte=1), name="service_bt_rank_min"),
        ]

    def __str__(self) -> str:
        return str(
            _("%(sku)s with %(other)s: %(n)s purchases")
            % {"sku": self.sku, "other": self.other_sku, "n": self.purchases}
        )


class ProductStats(BaseModel):
    """One row per sku sold: its category as sold and how many purchases held it (built with
    BoughtTogether, so suggestions can match rewards to the categories a member buys)."""

    sku = models.CharField(_("product (sku)"), max_length=64, unique=True)
    category = models.CharField(
        _("category"), max_length=64, blank=True, help_text=_("As sold on the receipt lines.")
    )
    purchases = models.PositiveIntegerField(_("purchases"), help_text=_("Purchases holding it."))

    class Meta:
        verbose_name = _("product sales count")
        verbose_name_plural = _("product sales counts")
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(purchases__gte=1), name="service_ps_purchases_min"),
        ]

    def __str__(self) -> str:
        return str(_("%(sku)s: %(n)s purchases") % {"sku": self.sku, "n": self.purchases})


class Feedback(BaseModel):
    class Kind(models.TextChoices):
        COMPLAINT = "complaint", _("Complaint")
        COMPLIMENT = "compliment", _("Compliment")
        SUGGESTION = "suggestion", _("Suggestion")
        OTHER = "other", _("Other feedback")

    class Channel(models.TextChoices):
        STORE = "store", _("In store")
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("E-mail")
        WEB = "web", _("Web site")
        APP = "app", _("App")
        SOCIAL = "social", _("Social media")
        SURVEY = "survey", _("Survey")

    class Category(models.TextChoices):
        PRODUCT = "product", _("Product")
        SERVICE = "service", _("Service")
        STORE = "store", _("Store")
        PROGRAMME = "programme", _("Loyalty programme")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        RESOLVED = "resolved", _("Resolved")

    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        related_name="feedback",
        verbose_name=_("member"),
        db_index=False,  # service_feedback_member_time leads with it
    )
    kind = models.CharField(
        _("kind"),
        max_length=12,
        choices=Kind.choices,
        default=Kind.COMPLAINT,
        help_text=_(
            "A complaint waits for a resolution and appears in the open complaints list; "
            "compliments and suggestions are recorded for the record and the counts."
        ),
    )
    channel = models.CharField(
        _("received through"),
        max_length=10,
        choices=Channel.choices,
        help_text=_("How the member told us, e.g. Phone."),
    )
    category = models.CharField(
        _("about"),
        max_length=10,
        choices=Category.choices,
        help_text=_("What it is about, e.g. Store for a rude cashier or a dirty shop."),
    )
    store = models.ForeignKey(
        "members.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("store"),
        help_text=_("The store it concerns, if any, e.g. London Covent Garden."),
    )
    text = models.TextField(
        _("what the member said"),
        max_length=5000,
        help_text=_("In the member's words, e.g. 'The voucher was refused at the till.'"),
    )
    score = models.PositiveSmallIntegerField(
        _("score (0-10)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(10)],
        help_text=_(
            "Optional: how likely the member is to recommend us, 0 (not at all) to 10 "
            "(extremely). Leave empty if they did not say."
        ),
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=Status.choices,
        default=Status.OPEN,
        help_text=_(
            "Open: nobody is on it yet. In progress: the owner is handling it. Resolved: "
            "answered, with the resolution written down."
        ),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("owner"),
        help_text=_("The staff member handling it."),
    )
    resolution = models.TextField(
        _("resolution"),
        blank=True,
        max_length=5000,
        help_text=_("What was done or answered, e.g. 'Apologised; voucher re-issued.'"),
    )
    received_at = models.DateTimeField(
        _("received at"), default=timezone.now, help_text=_("When the member told us.")
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    goodwill_points = models.PositiveIntegerField(
        _("goodwill points"),
        default=0,
        validators=[MaxValueValidator(GOODWILL_MAX_POINTS)],
        help_text=_("Points given to the member as an apology (0: none)."),
    )
    goodwill_entry = models.OneToOneField(
        "ledger.LedgerEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("goodwill ledger entry"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        verbose_name = _("feedback or complaint")
        verbose_name_plural = _("feedback and complaints")
        ordering = ["-received_at", "-id"]
        permissions = [("grant_goodwill", _("Can grant goodwill points for a complaint"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["complaint", "compliment", "suggestion", "other"]),
                name="service_feedback_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    channel__in=["store", "phone", "email", "web", "app", "social", "survey"]
                ),
                name="service_feedback_channel_valid",
            ),
            models.CheckConstraint(
                condition=Q(category__in=["product", "service", "store", "programme"]),
                name="service_feedback_category_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "in_progress", "resolved"]),
                name="service_feedback_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=10),
                name="service_feedback_score_range",
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved")
                | (Q(resolved_at__isnull=False) & ~Q(resolution="")),
                name="service_feedback_resolved_has_resolution",
            ),
            models.CheckConstraint(
                condition=Q(goodwill_points=0, goodwill_entry__isnull=True)
                | Q(goodwill_points__gt=0, goodwill_entry__isnull=False),
                name="service_feedback_goodwill_has_entry",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "received_at"], name="service_feedback_member_time"),
            models.Index(fields=["status", "received_at"], name="service_feedback_status_time"),
        ]

    def __str__(self) -> str:
        return str(
            _("%(kind)s #%(id)s about %(category)s, %(status)s")
            % {
                "kind": self.get_kind_display(),
                "id": self.pk or "-",
                "category": self.get_category_display().lower(),
                "status": self.get_status_display().lower(),
            }
        )

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.RESOLVED


class OpenComplaint(Feedback):
    """Complaints not resolved yet: their own list for staff, oldest first, with their age."""

    class Meta:
        proxy = True
        verbose_name = _("open complaint")
        verbose_name_plural = _("open complaints")
