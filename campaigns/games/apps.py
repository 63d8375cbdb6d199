from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GamesConfig(AppConfig):
    name = "campaigns.games"
    label = "games"
    verbose_name = _("Games")

    def ready(self) -> None:
        from campaigns.games.merge import games_member_merge
        from members import hooks as member_hooks

        member_hooks.register_merge_hook(games_member_merge)
