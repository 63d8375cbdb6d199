from django.utils.translation import gettext_lazy as _

from loyalty.core.exceptions import ApplicationError


class MemberNotFound(ApplicationError):
    code = "member_not_found"
    http_status = 404
    default_message = _("No member with that id or card number.")


class MemberNotActive(ApplicationError):
    code = "member_not_active"
    http_status = 409
    default_message = _("The member is not active.")


class DuplicateMember(ApplicationError):
    code = "duplicate_member"
    http_status = 409
    default_message = _("A member with this e-mail or phone already exists.")


class InvalidCardNumber(ApplicationError):
    code = "invalid_card_number"
    http_status = 422  # well formed, refused by a rule the schema cannot state
    default_message = _("That card number is not valid (check digit mismatch); check it and retry.")


class InvalidStatusChange(ApplicationError):
    code = "invalid_status_change"
    http_status = 409
    default_message = _("That status change is not allowed.")


class MemberErased(ApplicationError):
    code = "member_erased"
    http_status = 409
    default_message = _("The member's personal data was erased.")


class DuplicateIdentity(ApplicationError):
    code = "duplicate_identity"
    http_status = 409
    default_message = _("Another member already has this external id.")
