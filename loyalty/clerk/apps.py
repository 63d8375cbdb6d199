from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClerkConfig(AppConfig):
    name = "loyalty.clerk"
    label = "clerk"
    verbose_name = _("Clerk screen")
