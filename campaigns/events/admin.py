"""Member events admin for marketing staff: events with places taken and left, waitlist and
attendance; the RSVPs (read-only, they come through the API and the till); invitations and
check-ins (read-only logs). Sending invitations goes through the service."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline

from campaigns.events.models import Event, EventCheckIn, EventInvitation, EventRSVP
from campaigns.events.selectors import event_list_with_counts
from campaigns.events.services import event_invitations_send
from loyalty.core.admin_mixins import ReadOnlyAdminMixin
from loyalty.core.exceptions import ApplicationError
from rewards.selectors import programme_zone


def _local(moment: Any) -> str:
    if moment is None:
        return "-"
    return formats.date_format(timezone.localtime(moment, programme_zone()), "DATETIME_FORMAT")


class EventRSVPInline(TabularInline):
    model = EventRSVP
    extra = 0
    can_delete = False
    fields = ("member", "status", "queued_at", "walk_in", "promoted_at", "cancelled_at")
    readonly_fields = fields
    ordering = ("status", "queued_at", "pk")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ModelAdmin):
    list_display = (
        "name",
        "kind",
        "store",
        "starts_local",
        "status",
        "capacity",
        "places_taken",
        "places_left",
        "waitlisted",
        "attendance",
    )
    list_filter = ("status", "kind", "store")
    search_fields = ("name",)
    fields = (
        "name",
        "description",
        "kind",
        "store",
        "starts_at",
        "ends_at",
        "capacity",
        "rsvp_opens_at",
        "rsvp_closes_at",
        "points",
        "status",
        "segment",
        "invitation_only",
        "invitation_template",
    )
    inlines = (EventRSVPInline,)
    actions = ("send_invitations",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        return event_list_with_counts()

    @admin.display(description=_("starts (programme time)"), ordering="starts_at")
    def starts_local(self, event: Event) -> str:
        return _local(event.starts_at)

    @admin.display(description=_("places taken"), ordering="n_taken")
    def places_taken(self, event: Any) -> int:
        return int(event.n_taken)

    @admin.display(description=_("places left"))
    def places_left(self, event: Any) -> int:
        return max(event.capacity - int(event.n_taken), 0)

    @admin.display(description=_("waitlist"), ordering="n_waitlisted")
    def waitlisted(self, event: Any) -> int:
        return int(event.n_waitlisted)

    @admin.display(description=_("checked in"), ordering="n_checked_in")
    def attendance(self, event: Any) -> int:
        return int(event.n_checked_in)

    @admin.action(description=_("Send invitations to the event's segment"), permissions=["change"])
    def send_invitations(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        for event in queryset:
            try:
                sent = event_invitations_send(event=event)
            except ApplicationError as exc:
                self.message_user(request, f"{event.name}: {exc.message}", messages.ERROR)
                continue
            self.message_user(
                request,
                _("%(name)s: %(n)s member(s) invited.") % {"name": event.name, "n": sent},
            )


@admin.register(EventRSVP)
class EventRSVPAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("event", "member", "status", "queued_at", "walk_in", "promoted_at")
    list_filter = ("status", "walk_in", "event")
    list_select_related = ("event", "member")
    search_fields = ("member__member_number", "event__name")


@admin.register(EventInvitation)
class EventInvitationAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("event", "member", "created_at")
    list_filter = ("event",)
    list_select_related = ("event", "member")
    search_fields = ("member__member_number", "event__name")


@admin.register(EventCheckIn)
class EventCheckInAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("event", "member", "checked_in_at", "points", "walk_in", "checked_in_by")
    list_filter = ("event", "walk_in")
    list_select_related = ("event", "member", "checked_in_by")
    search_fields = ("member__member_number", "event__name")
