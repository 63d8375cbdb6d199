from django.utils.translation import gettext_lazy as _

from loyalty.core.exceptions import ApplicationError


class CampaignStatusInvalid(ApplicationError):
    code = "campaign_status_invalid"
    http_status = 409
    default_message = _("The campaign cannot move to that status.")


class ActionConflict(ApplicationError):
    code = "action_conflict"
    http_status = 409
    default_message = _("This action id was already reported for another member.")


class ReferralRefused(ApplicationError):
    code = "referral_refused"
    http_status = 422
    default_message = _("This referral is not allowed.")


class CampaignBudgetChanged(ApplicationError):
    code = "campaign_budget_changed"
    http_status = 409
    default_message = _(
        "A campaign's points budget was changed while this purchase was posted; send it again."
    )
