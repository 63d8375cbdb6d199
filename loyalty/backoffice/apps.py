from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """The staff admin's top layer: screens that combine several apps (a member's whole story,
    the members list with balance and tier, the rule simulator). Above every domain app, so it
    may read all of them through their selectors; nothing imports it."""

    name = "loyalty.backoffice"
    label = "backoffice"
    verbose_name = _("Back office")
