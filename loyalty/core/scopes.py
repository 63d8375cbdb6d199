"""API scopes, and the Django permission each one stands for when a staff user calls the API.

An API key carries scopes; a staff user (token or session) carries model permissions. Every API
view declares `required_scope` (one scope, or a mapping of HTTP method to scope), and the same
table decides both cases, so a key and a staff user are judged by one rule. The table is
documented in docs/api.md; the staff roles grant these permissions through their groups.
"""

from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

MEMBERS_READ = "members:read"
MEMBERS_WRITE = "members:write"
TRANSACTIONS_WRITE = "transactions:write"
REWARDS_REDEEM = "rewards:redeem"
VOUCHERS_CONSUME = "vouchers:consume"
ANALYTICS_READ = "analytics:read"
FEEDBACK_READ = "feedback:read"
FEEDBACK_WRITE = "feedback:write"

# Any valid key or signed-in user, whatever its scopes (who am I).
AUTHENTICATED = "authenticated"

SCOPES: dict[str, Any] = {
    MEMBERS_READ: _("Read members, balances, statements, tiers and vouchers"),
    MEMBERS_WRITE: _("Enrol and update members, change their status, erase them"),
    TRANSACTIONS_WRITE: _("Report purchases and returns, quote what a basket earns"),
    REWARDS_REDEEM: _("Read the catalogue, redeem rewards, pay with points, cancel redemptions"),
    VOUCHERS_CONSUME: _("Check, consume and undo voucher codes"),
    ANALYTICS_READ: _("Read KPIs and analytics"),
    FEEDBACK_READ: _("Read members' feedback and complaints"),
    FEEDBACK_WRITE: _("Record feedback and complaints, move them along, resolve them"),
}
SCOPE_CHOICES = [(scope, format_lazy("{}: {}", scope, label)) for scope, label in SCOPES.items()]

SCOPE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    MEMBERS_READ: ("members.view_member",),
    MEMBERS_WRITE: ("members.add_member", "members.change_member"),
    TRANSACTIONS_WRITE: ("ledger.add_transaction",),
    REWARDS_REDEEM: ("rewards.add_redemption",),
    VOUCHERS_CONSUME: ("rewards.change_voucher",),
    ANALYTICS_READ: ("analytics.view_kpisnapshot",),
    FEEDBACK_READ: ("service.view_feedback",),
    FEEDBACK_WRITE: ("service.add_feedback", "service.change_feedback"),
    AUTHENTICATED: (),
}

ScopeDeclaration = str | dict[str, str | None] | None


def required_scope_for(view: Any, method: str) -> str | None:
    """The scope `view` needs for `method`; None when it declares none (closed to API keys)."""
    declared: ScopeDeclaration = getattr(view, "required_scope", None)
    if isinstance(declared, dict):
        method = method.upper()
        if method in ("HEAD", "OPTIONS"):
            method = "GET"
        return declared.get(method)
    return declared
