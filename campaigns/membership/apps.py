from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembershipConfig(AppConfig):
    """The paid club (campaigns layer: it uses rewards for discounts and campaigns' messages)."""

    name = "campaigns.membership"
    label = "membership"
    verbose_name = _("Paid membership")

    def ready(self) -> None:
        from campaigns.membership import hooks
        from campaigns.membership.merge import club_member_merge
        from campaigns.membership.selectors import member_club_export
        from loyalty.core.periodic import PeriodicTaskSpec, register
        from loyalty.ledger import rules
        from members import hooks as member_hooks
        from rewards import hooks as reward_hooks

        member_hooks.register_privacy_section("paid_club", member_club_export)
        member_hooks.register_merge_hook(club_member_merge)
        rules.register_contributor(hooks.club_multiplier_contributor)
        rules.register_bulk_simulator(
            hooks.ClubBulkSimulator, covers=(hooks.club_multiplier_contributor,)
        )
        reward_hooks.register_price_adjuster(hooks.club_reward_discount)
        reward_hooks.register_eligibility_check(hooks.club_exclusive_rewards)
        register(
            PeriodicTaskSpec(
                "Paid club daily jobs",
                "campaigns.membership.tasks.club_daily_task",
                "20 1 * * *",
                "Every night at 01:20, close club memberships past their grace period and "
                "queue renewal reminders.",
            )
        )
