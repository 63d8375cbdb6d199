"""Games: the prize wheel and sweepstakes.

Invariants:
- a prize never goes out more often than its stock: `awarded` only grows in `wheel_spin`,
  under a row lock of all the wheel's prizes, and the database refuses awarded > stock;
- a spin is one transaction: the points it costs (ledger), the prize's stock and the award
  (ledger points) commit together or not at all;
- a spin id counts once: the same spin id again returns the first spin, never a second prize;
- a free spin granted by a campaign is used at most once (`used` <= `spins`, F() under lock).
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from loyalty.core.models import BaseModel


class PrizeWheel(BaseModel):
    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(
        _("description"), blank=True, help_text=_("Shown to members beside the wheel.")
    )
    spin_cost = models.PositiveIntegerField(
        _("points per spin"),
        default=0,
        help_text=_(
            "Points a member spends on one spin. 0: the wheel can only be spun with free spins "
            "granted by a campaign."
        ),
    )
    is_active = models.BooleanField(
        _("open for spins"),
        default=False,
        help_text=_("Members can spin only while this is ticked."),
    )

    class Meta:
        verbose_name = _("prize wheel")
        verbose_name_plural = _("prize wheels")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WheelPrize(BaseModel):
    class Kind(models.TextChoices):
        POINTS = "points", _("Points")
        NOTHING = "nothing", _("No prize (“try again”)")

    wheel = models.ForeignKey(
        PrizeWheel, on_delete=models.CASCADE, related_name="prizes", verbose_name=_("wheel")
    )
    label = models.CharField(
        _("label"), max_length=80, help_text=_("What the member sees on the wheel's slice.")
    )
    kind = models.CharField(
        _("prize"),
        max_length=10,
        choices=Kind.choices,
        default=Kind.POINTS,
        help_text=_("Points are credited to the member's account at once."),
    )
    points = models.PositiveIntegerField(
        _("points won"), default=0, help_text=_("For a points prize: how many points it gives.")
    )
    weight = models.PositiveIntegerField(
        _("weight"),
        default=1,
        help_text=_(
            "Relative chance: a slice of weight 2 comes up twice as often as one of weight 1. "
            "Slices out of stock drop out; the odds shown are over the slices left."
        ),
    )
    stock = models.PositiveIntegerField(
        _("stock"),
        null=True,
        blank=True,
        help_text=_("How many times this prize can be won in all. Empty: unlimited."),
    )
    awarded = models.PositiveIntegerField(
        _("won so far"), default=0, editable=False, help_text=_("Counted by the spins.")
    )

    class Meta:
        verbose_name = _("wheel prize")
        verbose_name_plural = _("wheel prizes")
        ordering = ["wheel", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["points", "nothing"]), name="games_wheelprize_kind_valid"
            ),
            models.CheckConstraint(condition=Q(weight__gte=1), name="games_wheelprize_weight_min"),
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(awarded__lte=F("stock")),
                name="games_wheelprize_within_stock",
            ),
            models.CheckConstraint(
                condition=~Q(kind="points") | Q(points__gte=1),
                name="games_wheelprize_points_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        if self.kind == self.Kind.POINTS and not self.points:
            raise ValidationError({"points": _("A points prize gives at least 1 point.")})
        if self.stock is not None and self.awarded > self.stock:
            raise ValidationError(
                {
                    "stock": _("%(n)s were already won: the stock cannot be less.")
                    % {"n": self.awarded}
                }
            )

    @property
    def left(self) -> int | None:
        return None if self.stock is None else self.stock - self.awarded


class WheelSpinGrant(BaseModel):
    """Free spins a campaign (or staff) gave a member; one row per grant, idempotent by key."""

    wheel = models.ForeignKey(
        PrizeWheel, on_delete=models.CASCADE, related_name="grants", verbose_name=_("wheel")
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    spins = models.PositiveIntegerField(_("free spins"), help_text=_("How many spins it gives."))
    used = models.PositiveIntegerField(_("spins used"), default=0, editable=False)
    reason = models.CharField(
        _("reason"), max_length=200, help_text=_("Which campaign or why, for the audit.")
    )
    idempotency_key = models.CharField(
        _("grant key"),
        max_length=100,
        unique=True,
        help_text=_("The same key again grants nothing more (e.g. campaign id and member)."),
    )

    class Meta:
        verbose_name = _("free spin grant")
        verbose_name_plural = _("free spin grants")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(spins__gte=1), name="games_wheelspingrant_spins_min"
            ),
            models.CheckConstraint(
                condition=Q(used__lte=F("spins")), name="games_wheelspingrant_used_within"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.spins} x {self.wheel}"


class WheelSpin(BaseModel):
    spin_id = models.CharField(
        _("spin id"),
        max_length=64,
        unique=True,
        help_text=_("Chosen by the caller; the same id again returns this spin."),
    )
    wheel = models.ForeignKey(
        PrizeWheel, on_delete=models.PROTECT, related_name="spins", verbose_name=_("wheel")
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    prize = models.ForeignKey(
        WheelPrize, on_delete=models.PROTECT, related_name="spins", verbose_name=_("prize won")
    )
    points_spent = models.PositiveIntegerField(_("points spent"), default=0)
    grant = models.ForeignKey(
        WheelSpinGrant,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="used_by",
        verbose_name=_("free spin used"),
    )
    points_won = models.PositiveIntegerField(_("points won"), default=0)

    class Meta:
        verbose_name = _("spin")
        verbose_name_plural = _("spins")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.spin_id}: {self.prize}"


class Sweepstake(BaseModel):
    """A prize draw. The seed is committed (its SHA-256 stored) when the sweepstake is created
    and revealed at the draw; the winners follow from the seed and the entries alone
    (campaigns/games/draw.py), so anyone can replay the draw."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    entry_cost = models.PositiveIntegerField(
        _("points per entry"), default=0, help_text=_("0: entries are only given by campaigns.")
    )
    max_entries_per_member = models.PositiveIntegerField(
        _("entries per member"), default=1, help_text=_("The most entries one member may hold.")
    )
    draw_at = models.DateTimeField(_("draw date"), help_text=_("Entries close at this time."))
    winners = models.PositiveIntegerField(
        _("number of winners"), default=1, help_text=_("Each winner is a different member.")
    )
    prize_points = models.PositiveIntegerField(
        _("points per winner"),
        default=0,
        help_text=_(
            "Credited at the draw to each winner whose place has no prize in the prize list "
            "(0: nothing for those places)."
        ),
    )
    message_template = models.ForeignKey(
        "campaigns.MessageTemplate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("message to winners"),
        help_text=_(
            "The template of the e-mail each winner gets after the draw. Empty: a plain "
            "message naming the sweepstake and the prize."
        ),
    )
    seed_sha256 = models.CharField(
        _("seed fingerprint (SHA-256)"),
        max_length=64,
        editable=False,
        help_text=_("Published before the draw; the revealed seed must hash to it."),
    )
    seed = models.CharField(_("seed"), max_length=64, editable=False)
    drawn_at = models.DateTimeField(_("drawn at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("sweepstake")
        verbose_name_plural = _("sweepstakes")
        ordering = ["-draw_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_entries_per_member__gte=1), name="games_sweepstake_entries_min"
            ),
            models.CheckConstraint(
                condition=Q(winners__gte=1), name="games_sweepstake_winners_min"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SweepstakePrize(BaseModel):
    """One line of a sweepstake's prize list: the winners drawn at places `rank` onwards
    (`quantity` of them, ranks in order) each get points (ledger) or a reward voucher."""

    class Kind(models.TextChoices):
        POINTS = "points", _("Points")
        REWARD = "reward", _("Reward voucher")

    sweepstake = models.ForeignKey(
        Sweepstake, on_delete=models.CASCADE, related_name="prizes", verbose_name=_("sweepstake")
    )
    rank = models.PositiveIntegerField(
        pgettext_lazy("prize", "rank"),
        help_text=_("1 for the first prize, 2 for the second... The lowest rank is given first."),
    )
    label = models.CharField(
        _("label"), max_length=120, help_text=_("What the winners see, e.g. 'Weekend for two'.")
    )
    kind = models.CharField(
        _("prize"),
        max_length=10,
        choices=Kind.choices,
        default=Kind.POINTS,
        help_text=_(
            "Points are credited to the winner's account; a reward gives the winner a voucher "
            "for it (no points charged, its stock is taken)."
        ),
    )
    points = models.PositiveIntegerField(
        _("points won"), default=0, help_text=_("For a points prize: how many points it gives.")
    )
    reward = models.ForeignKey(
        "rewards.Reward",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reward"),
        help_text=_("For a reward prize: the reward each of these winners gets a voucher for."),
    )
    quantity = models.PositiveIntegerField(
        _("number of winners"),
        default=1,
        help_text=_("How many winners get this prize (the next places in the draw)."),
    )

    class Meta:
        verbose_name = _("sweepstake prize")
        verbose_name_plural = _("sweepstake prizes")
        ordering = ["sweepstake", "rank", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["points", "reward"]), name="games_sweepstakeprize_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="games_sweepstakeprize_quantity_min"
            ),
            models.CheckConstraint(condition=Q(rank__gte=1), name="games_sweepstakeprize_rank_min"),
            models.CheckConstraint(
                condition=~Q(kind="points") | Q(points__gte=1),
                name="games_sweepstakeprize_points_positive",
            ),
            models.CheckConstraint(
                condition=~Q(kind="reward") | Q(reward__isnull=False),
                name="games_sweepstakeprize_reward_set",
            ),
            models.UniqueConstraint(
                fields=["sweepstake", "rank"], name="games_sweepstakeprize_rank_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        if self.kind == self.Kind.POINTS and not self.points:
            raise ValidationError({"points": _("A points prize gives at least 1 point.")})
        if self.kind == self.Kind.REWARD and self.reward_id is None:
            raise ValidationError({"reward": _("Choose the reward this prize gives.")})


class SweepstakeEntry(BaseModel):
    sweepstake = models.ForeignKey(
        Sweepstake, on_delete=models.PROTECT, related_name="entries", verbose_name=_("sweepstake")
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    points_spent = models.PositiveIntegerField(_("points spent"), default=0)
    idempotency_key = models.CharField(_("entry key"), max_length=100, unique=True)
    won = models.BooleanField(_("won"), default=False)
    place = models.PositiveIntegerField(
        _("place in the draw"), null=True, blank=True, help_text=_("1: drawn first.")
    )
    prize = models.ForeignKey(
        SweepstakePrize,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="winning_entries",
        verbose_name=_("prize won"),
    )
    points_won = models.PositiveIntegerField(_("points won"), default=0)
    voucher = models.ForeignKey(
        "rewards.Voucher",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("voucher won"),
    )

    class Meta:
        verbose_name = _("sweepstake entry")
        verbose_name_plural = _("sweepstake entries")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.sweepstake}"
