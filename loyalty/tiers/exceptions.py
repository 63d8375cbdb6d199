from django.utils.translation import gettext_lazy as _

from loyalty.core.exceptions import ApplicationError


class TierNotFound(ApplicationError):
    code = "tier_not_found"
    http_status = 404
    default_message = _("No such tier.")


class TierConfigurationError(ApplicationError):
    code = "tier_configuration_invalid"
    http_status = 422  # well formed, refused by a rule the schema cannot state
    default_message = _("The tiers are not configured consistently.")


class NoTiersDefined(ApplicationError):
    code = "no_tiers_defined"
    http_status = 409
    default_message = _("The programme has no tiers yet; create them in the admin first.")


class TierChangedConcurrently(ApplicationError):
    code = "tier_changed_concurrently"
    http_status = 409
    default_message = _("The member's tier changed at the same moment; try again.")
