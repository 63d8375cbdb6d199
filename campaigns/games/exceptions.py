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


class SweepstakeClosed(ApplicationError):
    code = "sweepstake_closed"
    http_status = 409
    default_message = _("Entries to this sweepstake are closed.")


class EntryLimitReached(ApplicationError):
    code = "entry_limit_reached"
    http_status = 409
    default_message = _("The member already holds the most entries allowed.")


class SweepstakeNotDue(ApplicationError):
    code = "sweepstake_not_due"
    http_status = 409
    default_message = _("The draw date has not come yet.")


class SweepstakeAlreadyDrawn(ApplicationError):
    code = "sweepstake_already_drawn"
    http_status = 409
    default_message = _("This sweepstake was already drawn.")


class EntryConflict(ApplicationError):
    code = "entry_conflict"
    http_status = 409
    default_message = _("This entry key was already used for another member or sweepstake.")


class SweepstakeNotDrawn(ApplicationError):
    code = "sweepstake_not_drawn"
    http_status = 409
    default_message = _("This sweepstake is not drawn yet: its seed is still secret.")
