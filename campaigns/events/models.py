"""Member events: store openings, tastings, workshops with a capacity, RSVPs and a waitlist.

Invariants:
- at most `capacity` confirmed RSVPs per event: every RSVP, cancellation and check-in decides
  under a row lock of the event (campaigns/events/services.py), so racing requests queue;
- one RSVP row per (event, member); a cancelled one comes back to life at the end of the queue;
- the waitlist is served first come, first served (`queued_at`, then pk);
- one check-in per (event, member), and the points for attending are credited once (the ledger
  idempotency key event:<event>:member:<member>);
- one invitation per (event, member).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from loyalty.core.models import BaseModel


class Event(BaseModel):
    class Kind(models.TextChoices):
        STORE_OPENING = "store_opening", _("Store opening")
        TASTING = "tasting", _("Tasting")
        WORKSHOP = "workshop", _("Workshop")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        CANCELLED = "cancelled", _("Cancelled")
        FINISHED = "finished", _("Finished")

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(
        _("description"), blank=True, help_text=_("Shown to members with the event.")
    )
    kind = models.CharField(
        _("kind of event"),
        max_length=20,
        choices=Kind.choices,
        default=Kind.OTHER,
        help_text=_("Store opening, tasting, workshop or other."),
    )
    store = models.ForeignKey(
        "members.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("store"),
        help_text=_("Where it takes place. Empty: not in a store."),
    )
    starts_at = models.DateTimeField(
        _("starts at"), help_text=_("In the programme's time zone (programme settings).")
    )
    ends_at = models.DateTimeField(
        _("ends at"), help_text=_("In the programme's time zone; check-in closes then.")
    )
    capacity = models.PositiveIntegerField(
        _("places"),
        help_text=_("How many members can come. RSVPs beyond it go on the waitlist."),
    )
    rsvp_opens_at = models.DateTimeField(
        _("RSVP opens at"), null=True, blank=True, help_text=_("Empty: as soon as published.")
    )
    rsvp_closes_at = models.DateTimeField(
        _("RSVP closes at"), null=True, blank=True, help_text=_("Empty: when the event starts.")
    )
    points = models.PositiveIntegerField(
        _("points for attending"),
        default=0,
        help_text=_("Credited once at check-in. 0: no points."),
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=Status.choices,
        default=Status.DRAFT,
        help_text=_(
            "Draft: not shown. Published: members can RSVP. Cancelled: no RSVP or check-in. "
            "Finished: over."
        ),
    )
    segment = models.ForeignKey(
        "campaigns.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("invited segment"),
        help_text=_("The members the Send invitations action writes to. Empty: no invitations."),
    )
    invitation_only = models.BooleanField(
        _("invitation only"),
        default=False,
        help_text=_("Only members who were sent an invitation can RSVP or be checked in."),
    )
    invitation_template = models.ForeignKey(
        "campaigns.MessageTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("invitation message"),
        help_text=_(
            "Placeholders: {{ event_name }}, {{ starts_at }}, {{ place_name }}. Empty: the first "
            "template used for event invitations."
        ),
    )

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-starts_at", "-pk"]
        permissions = [("check_in_event", _("Can check members in at events"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["store_opening", "tasting", "workshop", "other"]),
                name="events_event_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "published", "cancelled", "finished"]),
                name="events_event_status_valid",
            ),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="events_event_capacity_min"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="events_event_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(rsvp_opens_at__isnull=True)
                | Q(rsvp_closes_at__isnull=True)
                | Q(rsvp_closes_at__gt=F("rsvp_opens_at")),
                name="events_event_rsvp_window",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("The event must end after it starts.")
        if self.rsvp_opens_at and self.rsvp_closes_at and self.rsvp_closes_at <= self.rsvp_opens_at:
            errors["rsvp_closes_at"] = _("RSVP must close after it opens.")
        if errors:
            raise ValidationError(errors)


class EventRSVP(BaseModel):
    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed")
        WAITLISTED = "waitlisted", _("On the waitlist")
        CANCELLED = "cancelled", _("Cancelled")

    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="rsvps", verbose_name=_("event")
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    queued_at = models.DateTimeField(
        _("answered at"), help_text=_("The waitlist is served in this order.")
    )
    walk_in = models.BooleanField(
        _("came without RSVP"), default=False, help_text=_("Given a place at check-in.")
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    promoted_at = models.DateTimeField(_("moved off the waitlist at"), null=True, blank=True)

    class Meta:
        verbose_name = _("RSVP")
        verbose_name_plural = _("RSVPs")
        ordering = ["event", "queued_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "member"], name="events_eventrsvp_once"),
            models.CheckConstraint(
                condition=Q(status__in=["confirmed", "waitlisted", "cancelled"]),
                name="events_eventrsvp_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.event}"


class EventInvitation(BaseModel):
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("event")
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["event", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "member"], name="events_eventinvitation_once")
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.event}"


class EventCheckIn(BaseModel):
    event = models.ForeignKey(
        Event, on_delete=models.PROTECT, related_name="check_ins", verbose_name=_("event")
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    checked_in_at = models.DateTimeField(_("checked in at"))
    points = models.PositiveIntegerField(_("points credited"), default=0)
    walk_in = models.BooleanField(_("came without RSVP"), default=False)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("checked in by"),
    )

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["-checked_in_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "member"], name="events_eventcheckin_once")
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.event}"
