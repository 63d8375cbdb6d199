"""Member events API: published events with places left, RSVP (waitlisted beyond capacity),
cancel an RSVP, a member's RSVPs, and the check-in at the event."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.events.models import Event, EventCheckIn, EventRSVP
from campaigns.events.selectors import (
    event_get,
    event_list_published,
    member_rsvps,
    waitlist_position,
)
from campaigns.events.services import event_check_in, event_rsvp, event_rsvp_cancel
from loyalty.core.api.mixins import ApiAuthMixin, paginate
from loyalty.core.api.pagination import paginated
from loyalty.core.scopes import MEMBERS_READ, MEMBERS_WRITE, TRANSACTIONS_WRITE
from loyalty.ledger.api.views import MEMBER_REQUIRED, MemberRefMixin, resolve_member
from members.api.access import viewer
from members.selectors import member_get


class EventOutputSerializer(serializers.ModelSerializer):
    store = serializers.CharField(source="store.name", allow_null=True, default=None)
    places_taken = serializers.IntegerField(source="n_taken", help_text="Confirmed RSVPs.")
    places_left = serializers.SerializerMethodField(help_text="Places still free.")
    waitlisted = serializers.IntegerField(source="n_waitlisted", help_text="On the waitlist.")

    class Meta:
        model = Event
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "store",
            "starts_at",
            "ends_at",
            "capacity",
            "places_taken",
            "places_left",
            "waitlisted",
            "rsvp_opens_at",
            "rsvp_closes_at",
            "points",
            "status",
            "invitation_only",
        ]

    def get_places_left(self, event: Any) -> int:
        return max(event.capacity - int(event.n_taken), 0)


class RsvpOutputSerializer(serializers.ModelSerializer):
    event_name = serializers.CharField(source="event.name")
    waitlist_position = serializers.SerializerMethodField(
        help_text="1 for the first on the waitlist; null when not waitlisted."
    )

    class Meta:
        model = EventRSVP
        fields = [
            "event_id",
            "event_name",
            "member_id",
            "status",
            "waitlist_position",
            "queued_at",
            "promoted_at",
            "cancelled_at",
            "walk_in",
        ]

    def get_waitlist_position(self, rsvp: EventRSVP) -> int | None:
        return waitlist_position(rsvp=rsvp)


class EventListApi(ApiAuthMixin, APIView):
    """Published events that have not ended, soonest first, with places left."""

    required_scope = MEMBERS_READ

    @extend_schema(operation_id="events_list", responses=paginated(EventOutputSerializer))
    def get(self, request: Request) -> Response:
        return paginate(
            view=self, queryset=event_list_published(), serializer_class=EventOutputSerializer
        )


class EventGetApi(ApiAuthMixin, APIView):
    """One event with its places taken and left and the waitlist length."""

    required_scope = MEMBERS_READ

    @extend_schema(operation_id="events_get", responses=EventOutputSerializer)
    def get(self, request: Request, event_id: int) -> Response:
        return Response(EventOutputSerializer(event_get(event_id=event_id)).data)


class MemberInputSerializer(MemberRefMixin):
    schema_constraints = MEMBER_REQUIRED


class EventRsvpCreateApi(ApiAuthMixin, APIView):
    """RSVP for a member: confirmed while places are left, else waitlisted (201 either way).
    A live RSVP again returns it (200)."""

    required_scope = MEMBERS_WRITE

    @extend_schema(
        operation_id="events_rsvp",
        request=MemberInputSerializer,
        responses={201: RsvpOutputSerializer, 200: RsvpOutputSerializer},
    )
    def post(self, request: Request, event_id: int) -> Response:
        serializer = MemberInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = event_get(event_id=event_id)
        member = resolve_member(serializer.validated_data, request)
        before = EventRSVP.objects.filter(
            event=event, member=member, status__in=["confirmed", "waitlisted"]
        ).exists()
        rsvp = event_rsvp(event=event, member=member)
        code = status.HTTP_200_OK if before else status.HTTP_201_CREATED
        return Response(RsvpOutputSerializer(rsvp).data, status=code)


class EventRsvpCancelApi(ApiAuthMixin, APIView):
    """Cancel a member's RSVP; a freed place goes to the first on the waitlist."""

    required_scope = MEMBERS_WRITE

    @extend_schema(
        operation_id="events_rsvp_cancel",
        request=MemberInputSerializer,
        responses=RsvpOutputSerializer,
    )
    def post(self, request: Request, event_id: int) -> Response:
        serializer = MemberInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = event_get(event_id=event_id)
        member = resolve_member(serializer.validated_data, request)
        rsvp = event_rsvp_cancel(event=event, member=member)
        return Response(RsvpOutputSerializer(rsvp).data)


class MemberRsvpListApi(ApiAuthMixin, APIView):
    """A member's RSVPs, latest event first."""

    required_scope = MEMBERS_READ

    @extend_schema(operation_id="events_member_rsvps", responses=paginated(RsvpOutputSerializer))
    def get(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        return paginate(
            view=self, queryset=member_rsvps(member=member), serializer_class=RsvpOutputSerializer
        )


class EventCheckInApi(ApiAuthMixin, APIView):
    """Check a member in at the event: credits the event's points once and records the
    attendance (badge). 409 already_checked_in the second time (nothing changes)."""

    required_scope = TRANSACTIONS_WRITE

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = EventCheckIn
            fields = ["event_id", "member_id", "checked_in_at", "points", "walk_in"]

    @extend_schema(
        operation_id="events_check_in",
        request=MemberInputSerializer,
        responses={201: OutputSerializer},
    )
    def post(self, request: Request, event_id: int) -> Response:
        serializer = MemberInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = event_get(event_id=event_id)
        member = resolve_member(serializer.validated_data, request)
        check_in = event_check_in(event=event, member=member, actor=request.user)
        return Response(self.OutputSerializer(check_in).data, status=status.HTTP_201_CREATED)
