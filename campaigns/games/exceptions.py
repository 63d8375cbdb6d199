from django.utils.translation import gettext_lazy as _

from loyalty.core.exceptions import ApplicationError


class WheelNotActive(ApplicationError):
    code = "wheel_not_active"
    http_status = 409
    default_message = _("This prize wheel is not open for spins.")


class WheelSoldOut(ApplicationError):
    code = "wheel_sold_out"
    http_status = 409
    default_message = _("Every prize of this wheel is gone.")


class SpinConflict(ApplicationError):
    code = "spin_conflict"
    http_status = 409
    default_message = _("This spin id was already used for another member or wheel.")


class NoSpinLeft(ApplicationError):
    code = "no_spin_left"
    http_status = 409
    default_message = _("The member has no free spin left on this wheel.")
