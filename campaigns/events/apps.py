from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "campaigns.events"
    label = "events"
    verbose_name = _("Member events")

    def ready(self) -> None:
        from campaigns.events.merge import events_member_merge
        from loyalty.core.periodic import PeriodicTaskSpec, register
        from members import hooks as member_hooks

        member_hooks.register_merge_hook(events_member_merge)

        register(
            PeriodicTaskSpec(
                "Member events: finish the past ones",
                "campaigns.events.tasks.events_finish_task",
                "5 * * * *",
                "Every hour at :05, published events whose end has passed become finished.",
            )
        )
