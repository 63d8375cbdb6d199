from django.utils.translation import gettext_lazy as _

from loyalty.core.exceptions import ApplicationError


class FeedbackStatusInvalid(ApplicationError):
    code = "feedback_status_invalid"
    http_status = 409
    default_message = _("The feedback cannot move to that status.")


class GoodwillAlreadyGranted(ApplicationError):
    code = "goodwill_already_granted"
    http_status = 409
    default_message = _("Goodwill points were already granted for this feedback.")


class GoodwillNotAllowed(ApplicationError):
    code = "goodwill_not_allowed"
    http_status = 403
    default_message = _("Granting goodwill points needs the 'grant goodwill points' permission.")
