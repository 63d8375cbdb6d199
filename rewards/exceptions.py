from django.utils.translation import gettext_lazy as _

from loyalty.core.exceptions import ApplicationError, IdempotencyKeyReused


class RewardNotAvailable(ApplicationError):
    code = "reward_not_available"
    http_status = 409
    default_message = _("This reward cannot be redeemed now (inactive or outside its dates).")


class RewardNotEligible(ApplicationError):
    code = "reward_not_eligible"
    http_status = 403
    default_message = _("This member may not redeem this reward.")


class RewardOutOfStock(ApplicationError):
    code = "reward_out_of_stock"
    http_status = 409
    default_message = _("This reward is out of stock.")


class RewardLimitReached(ApplicationError):
    code = "reward_limit_reached"
    http_status = 409
    default_message = _("This member has already redeemed this reward as often as allowed.")


class RewardNotFound(ApplicationError):
    code = "reward_not_found"
    http_status = 404
    default_message = _("No such reward.")


class RedemptionNotFound(ApplicationError):
    code = "redemption_not_found"
    http_status = 404
    default_message = _("No such redemption.")


class VoucherNotFound(ApplicationError):
    code = "voucher_not_found"
    http_status = 404
    default_message = _("No voucher has this code. Check the code and type it again.")


class VoucherNotValid(ApplicationError):
    code = "voucher_not_valid"
    http_status = 409
    default_message = _("This voucher cannot be used.")


class VoucherUsedForOtherOrder(ApplicationError):
    code = "voucher_used_for_other_order"
    http_status = 409
    default_message = _("This voucher was already used for another order.")


class VoucherUndoWindowPassed(ApplicationError):
    code = "voucher_undo_window_passed"
    http_status = 409
    default_message = _("The voucher was used too long ago to undo.")


class VoucherAlreadyUsed(ApplicationError):
    code = "voucher_already_used"
    http_status = 409
    default_message = _("The voucher was already used; the redemption cannot be cancelled.")


class PointsPaymentInvalid(ApplicationError):
    code = "points_payment_invalid"
    http_status = 422  # well formed, refused by a rule the schema cannot state
    default_message = _("These points cannot be used to pay.")


class IdempotencyConflict(IdempotencyKeyReused):
    """A redemption key already used for another reward or amount: the API's one rule
    (docs/api.md, Idempotency) answers it with the same code, idempotency_key_reused."""


class VoucherMemberMismatch(ApplicationError):
    code = "voucher_member_mismatch"
    http_status = 409
    default_message = _("This voucher can only be used by the member it was issued to.")


class VoucherNotIssuable(ApplicationError):
    code = "voucher_not_issuable"
    http_status = 409
    default_message = _("Only a pre-printed voucher that is not issued yet can be issued or sold.")


class CauseNotFound(ApplicationError):
    code = "cause_not_found"
    http_status = 404
    default_message = _("No such cause.")


class CauseNotAvailable(ApplicationError):
    code = "cause_not_available"
    http_status = 409
    default_message = _("This cause is not open for donations.")


class DonationFinal(ApplicationError):
    code = "donation_final"
    http_status = 409
    default_message = _("A donation is final: the points were given to the cause.")
