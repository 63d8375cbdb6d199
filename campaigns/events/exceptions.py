from django.utils.translation import gettext_lazy as _

from loyalty.core.exceptions import ApplicationError, NotFound


class EventNotFound(NotFound):
    code = "event_not_found"
    default_message = _("No published event with that id.")


class EventClosed(ApplicationError):
    code = "event_closed"
    http_status = 409
    default_message = _("This event does not take answers now (RSVP is closed).")


class EventCancelled(ApplicationError):
    code = "event_cancelled"
    http_status = 409
    default_message = _("This event was cancelled.")


class EventNotOpenForCheckIn(ApplicationError):
    code = "event_not_open_for_check_in"
    http_status = 409
    default_message = _("Check-in for this event is not open now.")


class EventFull(ApplicationError):
    """Only for a check-in without a place: an RSVP beyond capacity is waitlisted instead."""

    code = "event_full"
    http_status = 409
    default_message = _("Every place of this event is taken.")


class NotInvited(ApplicationError):
    code = "not_invited"
    http_status = 403
    default_message = _("This event is by invitation only and the member was not invited.")


class AlreadyCheckedIn(ApplicationError):
    code = "already_checked_in"
    http_status = 409
    default_message = _("This member is already checked in at this event.")


class RsvpNotFound(NotFound):
    code = "rsvp_not_found"
    default_message = _("The member has no RSVP for this event.")


class NoInvitationSegment(ApplicationError):
    code = "no_invitation_segment"
    http_status = 422
    default_message = _("Choose the segment to invite first.")
