from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TiersConfig(AppConfig):
    name = "loyalty.tiers"
    label = "tiers"
    verbose_name = _("Tiers")

    def ready(self) -> None:
        from loyalty.core.periodic import PeriodicTaskSpec, register
        from loyalty.ledger import rules
        from loyalty.tiers import hooks
        from loyalty.tiers.selectors import member_tier_export
        from loyalty.tiers.services import tier_member_merge, tier_members_enrolled
        from members import hooks as member_hooks

        member_hooks.register_privacy_section("tiers", member_tier_export)
        member_hooks.register_merge_hook(tier_member_merge)
        member_hooks.register_enrol_hook(tier_members_enrolled)
        rules.register_contributor(hooks.tier_multiplier_contributor)
        rules.register_after_posting_hook(hooks.tier_upgrade_after_posting)
        rules.register_tier_choices(hooks.tier_quote_choices)
        from loyalty.tiers.bulk import TierBulkSimulator

        rules.register_bulk_simulator(
            TierBulkSimulator,
            covers=(hooks.tier_multiplier_contributor, hooks.tier_upgrade_after_posting),
        )
        register(
            PeriodicTaskSpec(
                "Tier period end",
                "loyalty.tiers.tasks.tier_period_end_evaluate_task",
                "40 0 * * *",
                "Every night at 00:40, judge members whose period ended: downgrades and grace.",
            )
        )
