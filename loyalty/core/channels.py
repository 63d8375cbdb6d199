"""The sales channels a purchase can come through: shared vocabulary of the ledger (where a
transaction was made) and integrations (the channel an API key is bound to), so it lives in core."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SalesChannel(models.TextChoices):
    STORE = "store", _("Store")
    WEB = "web", _("Web shop")
    APP = "app", _("App")
    IMPORT = "import", _("Import")
    API = "api", _("API")
