from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EngagementConfig(AppConfig):
    name = "campaigns.engagement"
    label = "engagement"
    verbose_name = _("Engagement: badges, streaks, stages")

    def ready(self) -> None:
        from campaigns.engagement import hooks
        from campaigns.engagement.bulk import EngagementBulkSimulator
        from campaigns.engagement.merge import engagement_member_merge
        from campaigns.engagement.selectors import member_engagement_export
        from loyalty.core.periodic import PeriodicTaskSpec, register
        from loyalty.ledger import rules
        from members import hooks as member_hooks

        # after the tiers' and campaigns' hooks (INSTALLED_APPS order): a "tier reached" badge
        # sees the upgrade the same purchase caused
        rules.register_after_posting_hook(hooks.engagement_after_posting)
        rules.register_bulk_simulator(
            EngagementBulkSimulator, covers=(hooks.engagement_after_posting,)
        )
        member_hooks.register_privacy_section("engagement", member_engagement_export)
        member_hooks.register_merge_hook(engagement_member_merge)
        register(
            PeriodicTaskSpec(
                "Engagement nightly catch-up",
                "campaigns.engagement.tasks.engagement_nightly_task",
                "40 1 * * *",
                "Every night at 01:40, streaks, lifecycle stages, badges (catch-up) and, on the "
                "1st, the VIP of the month just ended.",
            )
        )
