from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    name = "loyalty.ledger"
    label = "ledger"
    verbose_name = _("Points ledger")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from loyalty.core.periodic import PeriodicTaskSpec, register
        from loyalty.ledger import merge
        from loyalty.ledger.models import ProgrammeSettings
        from loyalty.ledger.policy import programme_phone_region
        from loyalty.ledger.selectors import member_ledger_export
        from loyalty.ledger.services.expire_all import (
            member_closed_points_forfeit,
            member_erased_points_forfeit,
        )
        from loyalty.ledger.timezones import programme_zone_forget
        from members import hooks

        post_save.connect(programme_zone_forget, sender=ProgrammeSettings, dispatch_uid="zone")
        post_delete.connect(programme_zone_forget, sender=ProgrammeSettings, dispatch_uid="zone")

        hooks.register_privacy_section("points", member_ledger_export)
        hooks.register_merge_hook(merge.member_points_merge)
        hooks.register_close_hook(member_closed_points_forfeit)
        hooks.register_erase_hook(member_erased_points_forfeit)
        hooks.register_phone_region_provider(programme_phone_region)
        for spec in (
            PeriodicTaskSpec(
                "Expire points",
                "loyalty.ledger.tasks.points_expire_due_task",
                "5 0 * * *",
                "Every night at 00:05, expire what is left of lots past their expiry.",
            ),
            PeriodicTaskSpec(
                "Release pending points",
                "loyalty.ledger.tasks.points_release_pending_task",
                "20 * * * *",
                "Every hour at :20, tell members whose pending points became available.",
            ),
            PeriodicTaskSpec(
                "Warn of expiring points",
                "loyalty.ledger.tasks.points_expiry_warn_task",
                "0 9 * * *",
                "Every morning at 09:00, warn members whose points expire soon.",
            ),
            PeriodicTaskSpec(
                "Reconcile the ledger",
                "loyalty.ledger.tasks.ledger_reconcile_task",
                "30 2 * * *",
                "Every night at 02:30, prove balances = entries = lots; log mismatches.",
            ),
            PeriodicTaskSpec(
                "Rebuild purchase statistics",
                "loyalty.ledger.tasks.purchase_stats_rebuild_task",
                "45 2 * * *",
                "Every night at 02:45, recompute each member's purchase statistics (segments).",
            ),
        ):
            register(spec)
