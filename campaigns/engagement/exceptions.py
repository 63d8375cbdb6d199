from django.utils.translation import gettext_lazy as _

from loyalty.core.exceptions import ApplicationError


class EventCheckInRefused(ApplicationError):
    code = "event_check_in_refused"
    http_status = 422
    default_message = _("Only an active member can check in at an event.")
