from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RewardsConfig(AppConfig):
    name = "rewards"
    label = "rewards"
    verbose_name = _("Rewards")

    def ready(self) -> None:
        from loyalty.core.periodic import PeriodicTaskSpec, register
        from members import hooks as member_hooks
        from rewards.merge import voucher_member_merge

        member_hooks.register_merge_hook(voucher_member_merge)

        for spec in (
            PeriodicTaskSpec(
                "Expire vouchers",
                "rewards.tasks.vouchers_expire_due_task",
                "15 0 * * *",
                "Every night at 00:15, expire vouchers past their date (refund if the reward says so).",
            ),
            PeriodicTaskSpec(
                "Sweep low-stock alerts",
                "rewards.tasks.reward_low_stock_alerts_sweep_task",
                "*/10 * * * *",
                "Every 10 minutes, send low-stock alerts the broker never received.",
            ),
        ):
            register(spec)
