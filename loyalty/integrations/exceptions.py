from django.utils.translation import gettext_lazy as _

from loyalty.core.exceptions import ApplicationError


class ScopeMissing(ApplicationError):
    code = "missing_scope"
    http_status = 403
    default_message = _("This API key lacks the scope this endpoint needs.")


class ApiKeyNotAllowed(ApplicationError):
    code = "api_key_not_allowed"
    http_status = 403
    default_message = _("This endpoint is for staff users; API keys cannot call it.")


class PermissionMissing(ApplicationError):
    code = "permission_denied"
    http_status = 403
    default_message = _("Your user lacks the permission this endpoint needs.")


class StoreNotAllowed(ApplicationError):
    code = "store_not_allowed"
    http_status = 403
    default_message = _("This API key reports for another store.")


class ChannelNotAllowed(ApplicationError):
    code = "channel_not_allowed"
    http_status = 403
    default_message = _("This API key reports through another channel.")


class ApiClientRevoked(ApplicationError):
    code = "api_client_revoked"
    http_status = 409
    default_message = _("This API client is already revoked.")
