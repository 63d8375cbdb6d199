from loyalty.core.exceptions import ApplicationError


class ClubPlanNotAvailable(ApplicationError):
    code = "club_plan_not_available"
    http_status = 409
    default_message = "This club plan is not open to new members."


class ClubPlanNotFound(ApplicationError):
    code = "club_plan_not_found"
    http_status = 404
    default_message = "No such club plan."


class ClubMembershipNotFound(ApplicationError):
    code = "club_membership_not_found"
    http_status = 404
    default_message = "This member has no paid club membership."


class AlreadyClubMember(ApplicationError):
    code = "already_club_member"
    http_status = 409
    default_message = "This member already belongs to the paid club; renew instead."


class ClubMembershipLapsed(ApplicationError):
    code = "club_membership_lapsed"
    http_status = 409
    default_message = "The membership ended after its grace period; join again instead."


class ClubMembershipCancelled(ApplicationError):
    code = "club_membership_cancelled"
    http_status = 409
    default_message = "The membership was cancelled."


class ClubFeeMismatch(ApplicationError):
    code = "club_fee_mismatch"
    http_status = 422
    default_message = "The amount paid is not the plan's fee."


class PaymentReferenceReused(ApplicationError):
    code = "payment_reference_reused"
    http_status = 409
    default_message = "This payment reference was already recorded for another membership."
