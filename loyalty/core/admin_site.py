"""Small hooks for the unfold admin theme: the environment badge and the sidebar.

The sidebar is grouped by the work staff do (Members, Points, Rewards, Campaigns, Analytics,
Settings), not by app label; the technical apps (API keys and tokens, login throttling,
periodic tasks) come last under "System". Each entry is shown only to users who may view it,
and a group with no entry left is not shown, so a marketing or finance user never sees System.
Entries name admin URLs, not models: an app that is not installed or has no admin yet simply
adds nothing.
"""

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _


def environment_badge(request: HttpRequest) -> list[str] | None:
    """Show a coloured badge in the admin header so nobody mistakes a demo for production."""
    if settings.DEBUG:
        return [str(_("Development")), "warning"]
    return None


# (title, material icon, admin URL name, permission needed)
Entry = tuple[Any, str, str, str]

SIDEBAR: tuple[tuple[Any, tuple[Entry, ...]], ...] = (
    (
        _("Members"),
        (
            (_("Members"), "group", "members_member_changelist", "members.view_member"),
            (_("Stores"), "storefront", "members_store_changelist", "members.view_store"),
            (
                _("Tier history"),
                "military_tech",
                "tiers_tierassignment_changelist",
                "tiers.view_tierassignment",
            ),
        ),
    ),
    (
        _("Points"),
        (
            (
                _("Purchases and returns"),
                "receipt_long",
                "ledger_transaction_changelist",
                "ledger.view_transaction",
            ),
            (
                _("Points ledger"),
                "account_balance_wallet",
                "ledger_ledgerentry_changelist",
                "ledger.view_ledgerentry",
            ),
            (
                _("Earning rules"),
                "rule",
                "ledger_earningrule_changelist",
                "ledger.view_earningrule",
            ),
            (
                _("Rule simulator"),
                "calculate",
                "ledger_earningrule_simulate",
                "ledger.view_earningrule",
            ),
            (_("Promo codes"), "sell", "ledger_promocode_changelist", "ledger.view_promocode"),
            (
                _("Expire all points"),
                "event_busy",
                "ledger_pointsexpiryrun_changelist",
                "ledger.view_pointsexpiryrun",
            ),
        ),
    ),
    (
        _("Rewards"),
        (
            (_("Rewards catalogue"), "redeem", "rewards_reward_changelist", "rewards.view_reward"),
            (
                _("Redemptions"),
                "shopping_bag",
                "rewards_redemption_changelist",
                "rewards.view_redemption",
            ),
            (
                _("Vouchers"),
                "confirmation_number",
                "rewards_voucher_changelist",
                "rewards.view_voucher",
            ),
            (
                _("Partner codes"),
                "qr_code",
                "rewards_rewardcode_changelist",
                "rewards.view_rewardcode",
            ),
            (
                _("Pre-printed voucher batches"),
                "inventory_2",
                "rewards_voucherbatch_changelist",
                "rewards.view_voucherbatch",
            ),
        ),
    ),
    (
        _("Campaigns"),
        (
            (
                _("Campaigns"),
                "campaign",
                "campaigns_campaign_changelist",
                "campaigns.view_campaign",
            ),
            (_("Segments"), "filter_alt", "campaigns_segment_changelist", "campaigns.view_segment"),
            (
                _("Message templates"),
                "mail",
                "campaigns_messagetemplate_changelist",
                "campaigns.view_messagetemplate",
            ),
            (
                _("Messages sent"),
                "outgoing_mail",
                "campaigns_messagedelivery_changelist",
                "campaigns.view_messagedelivery",
            ),
            (_("Referrals"), "share", "campaigns_referral_changelist", "campaigns.view_referral"),
            (
                _("Member actions"),
                "rate_review",
                "campaigns_actionevent_changelist",
                "campaigns.view_actionevent",
            ),
            (
                _("Campaign awards"),
                "stars",
                "campaigns_campaignaward_changelist",
                "campaigns.view_campaignaward",
            ),
        ),
    ),
    (
        _("Analytics"),
        (
            (
                _("KPI dashboard"),
                "monitoring",
                "analytics_dashboard_changelist",
                "analytics.view_dashboard",
            ),
            (
                _("Daily snapshots"),
                "calendar_month",
                "analytics_kpisnapshot_changelist",
                "analytics.view_kpisnapshot",
            ),
        ),
    ),
    (
        _("Settings"),
        (
            (
                _("Programme settings"),
                "tune",
                "ledger_programmesettings_changelist",
                "ledger.view_programmesettings",
            ),
            (_("Tiers"), "workspace_premium", "tiers_tier_changelist", "tiers.view_tier"),
            (_("Tier policy"), "policy", "tiers_tierpolicy_changelist", "tiers.view_tierpolicy"),
            (_("Floor tiers"), "shield", "tiers_tierfloor_changelist", "tiers.view_tierfloor"),
            (
                _("Rewards settings"),
                "settings",
                "rewards_rewardssettings_changelist",
                "rewards.view_rewardssettings",
            ),
            (_("Staff users"), "person", "auth_user_changelist", "auth.view_user"),
            (_("Roles"), "badge", "auth_group_changelist", "auth.view_group"),
            (_("Audit log"), "history", "core_auditlog_changelist", "core.view_auditlog"),
        ),
    ),
)

# Apps whose pages are for whoever runs the system, listed under "System" as they register.
SYSTEM_APPS = ("integrations", "authtoken", "axes", "django_celery_beat")


def _system_entries() -> list[Entry]:
    entries = []
    for app_label in SYSTEM_APPS:
        for model in admin.site._registry:
            opts = model._meta
            if opts.app_label == app_label:
                entries.append(
                    (
                        capfirst(str(opts.verbose_name_plural)),
                        "settings_applications",
                        f"{opts.app_label}_{opts.model_name}_changelist",
                        f"{opts.app_label}.view_{opts.model_name}",
                    )
                )
    return entries


def _items(request: HttpRequest, entries: Any) -> list[dict[str, Any]]:
    items = []
    for title, icon, url_name, permission in entries:
        if not request.user.has_perm(permission):
            continue
        try:
            link = reverse(f"admin:{url_name}")
        except NoReverseMatch:
            continue  # not installed, or no admin page yet
        items.append({"title": title, "icon": icon, "link": link, "permission": _allowed})
    return items


def _allowed(request: HttpRequest) -> bool:
    return True  # already filtered by sidebar_navigation for this request


def sidebar_navigation(request: HttpRequest) -> list[dict[str, Any]]:
    """UNFOLD["SIDEBAR"]["navigation"]: the groups this user may see, in the order of work."""
    groups = [*SIDEBAR, (_("System"), tuple(_system_entries()))]
    out = []
    for title, entries in groups:
        items = _items(request, entries)
        if items:
            out.append({"title": title, "separator": True, "collapsible": False, "items": items})
    return out
