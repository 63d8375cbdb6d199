"""Domain errors. Each app subclasses ApplicationError; the API maps them to HTTP in one place."""

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    """A business rule refused the request. Rendered as {code, message, extra} with http_status."""

    code: str = "application_error"
    http_status: int = 400
    default_message: str | Promise = _("The request could not be processed.")  # or gettext_lazy

    def __init__(
        self, message: str | Promise | None = None, *, extra: dict[str, Any] | None = None
    ) -> None:
        # a lazy translation is rendered now, in the language of the request that raised it
        self.message: str = str(message or self.default_message)
        self.extra = extra or {}
        super().__init__(self.message)


class NotFound(ApplicationError):
    code = "not_found"
    http_status = 404
    default_message = _("Not found.")


class Conflict(ApplicationError):
    code = "conflict"
    http_status = 409
    default_message = _("The request conflicts with the current state.")


class IdempotencyKeyReused(Conflict):
    """The same idempotency key came with a different request (docs/api.md, Idempotency)."""

    code = "idempotency_key_reused"
    default_message = _(
        "This idempotency key was already used for a different request; use a new key."
    )


class IdempotencyRequestInProgress(Conflict):
    code = "idempotency_request_in_progress"
    default_message = _(
        "A request with this idempotency key is still being processed; retry in a moment."
    )
