from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    label = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from campaigns import hooks
        from campaigns.bulk import CampaignBulkSimulator
        from loyalty.core.periodic import PeriodicTaskSpec, register
        from loyalty.ledger import rules

        rules.register_after_posting_hook(hooks.campaigns_after_posting)
        rules.register_after_posting_hook(hooks.campaign_counts_flush, last=True)
        from campaigns.messaging import tier_changed_message_queue, tier_changed_messages_queue
        from loyalty.core import events

        # tier upgrades and downgrades become member messages (tiers publish tier.changed)
        events.subscribe(tier_changed_message_queue, many=tier_changed_messages_queue)
        rules.register_bulk_simulator(
            CampaignBulkSimulator,
            covers=(hooks.campaigns_after_posting, hooks.campaign_counts_flush),
        )
        for name, task, cron, words in (
            (
                "Campaign schedule",
                "campaigns.tasks.campaign_schedule_tick_task",
                "*/5 * * * *",
                "Every 5 minutes, start scheduled campaigns and end those whose window is over.",
            ),
            (
                "Campaign daily jobs",
                "campaigns.tasks.campaign_daily_task",
                "10 1 * * *",
                "Every night at 01:10, RFM scores, birthday bonuses and due referral rewards.",
            ),
            (
                "Deliver member messages",
                "campaigns.tasks.messages_deliver_task",
                "* * * * *",
                "Every minute, send pending member messages from the outbox.",
            ),
        ):
            register(PeriodicTaskSpec(name, task, cron, words))
