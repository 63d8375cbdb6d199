from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    label = "members"
    verbose_name = _("Members")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from loyalty.core import config_cache
        from members.models import Store
        from members.services import staff_language_remember

        # API clients are cached with their store (loyalty/integrations/services.py)
        config_cache.watch(Store)

        user_logged_in.connect(staff_language_remember, dispatch_uid="members.staff_language")
