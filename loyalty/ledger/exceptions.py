from django.utils.translation import gettext_lazy as _

from loyalty.core.exceptions import ApplicationError


class InsufficientPoints(ApplicationError):
    code = "insufficient_points"
    http_status = 409
    default_message = _("Not enough available points.")


class ReturnExceedsPurchase(ApplicationError):
    code = "return_exceeds_purchase"
    http_status = 409
    default_message = _("The returns would exceed the amount of the purchase.")


class TransactionConflict(ApplicationError):
    code = "transaction_conflict"
    http_status = 409
    default_message = _("This external id was already used for a different transaction.")


class EntryAlreadyReversed(ApplicationError):
    code = "entry_already_reversed"
    http_status = 409
    default_message = _("This entry was already reversed.")


class OriginalTransactionNotFound(ApplicationError):
    code = "original_transaction_not_found"
    http_status = 404
    default_message = _("The purchase this return refers to is unknown.")


class InvalidAmount(ApplicationError):
    code = "invalid_amount"
    http_status = 422  # well formed, refused by a rule the schema cannot state
    default_message = _("The amount is not valid.")
