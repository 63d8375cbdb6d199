from django.urls import path

from campaigns.events.api.views import (
    EventCheckInApi,
    EventGetApi,
    EventListApi,
    EventRsvpCancelApi,
    EventRsvpCreateApi,
    MemberRsvpListApi,
)

app_name = "events"

urlpatterns = [
    path("", EventListApi.as_view(), name="list"),
    path("<int:event_id>/", EventGetApi.as_view(), name="get"),
    path("<int:event_id>/rsvps/", EventRsvpCreateApi.as_view(), name="rsvp"),
    path("<int:event_id>/rsvps/cancel/", EventRsvpCancelApi.as_view(), name="rsvp-cancel"),
    path("<int:event_id>/check-ins/", EventCheckInApi.as_view(), name="check-in"),
    path("members/<int:member_id>/rsvps/", MemberRsvpListApi.as_view(), name="member-rsvps"),
]
