"""Staff roles: Django groups and the permissions each one holds, defined once here.

`setup_roles` (management command, also run after every `migrate`) creates the groups and sets
their permissions to exactly what this table says. Grants are patterns over
"app_label.codename" (shell-style wildcards); a pattern that matches no permission is simply
skipped, so a later app (campaigns, analytics, integrations) joins a role by re-running the
command once its models exist. A pattern starting with "!" takes permissions away again.

The API maps each key scope onto the same model permissions (members:read ->
members.view_member, members:write -> members.add_member/change_member, transactions:write ->
ledger.add_transaction, rewards:redeem -> rewards.add_redemption, vouchers:consume ->
rewards.change_voucher, analytics:read -> analytics.view_*), so a role means the same in the
admin, on the clerk screen and in the API.

Dedicated permissions guard the sensitive actions (see docs/security.md):
- ledger.adjust_points: the "adjust points" action and API;
- <app>.export_<model>: every export (import-export buttons, CSV actions, personal data);
- <app>.import_<model>: every import;
- members.use_clerk_screen: the till screen at /clerk/;
- core.view_auditlog: the cross-model audit log page.
"""

from dataclasses import dataclass
from fnmatch import fnmatchcase

from django.contrib.auth.models import Group, Permission
from django.db import transaction

# The apps holding the programme's data; "view everything" means these, not auth or tokens.
DOMAIN_APPS = (
    "members",
    "ledger",
    "tiers",
    "rewards",
    "campaigns",
    "service",
    "engagement",
    "membership",
    "games",
    "events",
    "analytics",
)


def _crud(actions: str, *models: str) -> tuple[str, ...]:
    """_crud("add change view", "ledger.earningrule") -> ledger.add_earningrule, ..."""
    out = []
    for label in models:
        app, model = label.split(".")
        out += [f"{app}.{action}_{model}" for action in actions.split()]
    return tuple(out)


def _view_all(*apps: str) -> tuple[str, ...]:
    return tuple(f"{app}.view_*" for app in apps)


@dataclass(frozen=True)
class Role:
    name: str
    grants: tuple[str, ...]


ROLES: tuple[Role, ...] = (
    # Marketing runs the programme: its settings, earning rules, tiers, the rewards catalogue,
    # campaigns and segments, analytics, and member/catalogue imports and exports. It sees the
    # rest read-only, and cannot adjust points, set tiers by hand or delete anything.
    Role(
        "Marketing",
        (
            *_crud(
                "add change view",
                "ledger.programmesettings",
                "ledger.earningrule",
                "tiers.tierpolicy",
                "tiers.tier",
                "rewards.rewardssettings",
                "rewards.reward",
                "rewards.rewardcode",
                "rewards.cause",
            ),
            "campaigns.*",
            "engagement.*",  # badge rules and the lifecycle settings (the rest is read-only)
            "membership.*",  # the paid club: plans, joining, renewals, cancellations
            "games.*",
            "events.*",  # member events: invitations, RSVPs, check-ins
            "analytics.*",
            # feedback: record and handle it; goodwill points are Customer service's call
            *_crud("add change view", "service.feedback"),
            "*.import_*",
            "*.export_*",
            *_view_all(*DOMAIN_APPS),
            "!*.delete_*",
        ),
    ),
    # Store clerk works the till: the clerk screen, member lookup in the admin (only their
    # store's members when their staff profile is restricted), enrolment, purchases and
    # returns, redeeming rewards and consuming vouchers. No points adjustments, no exports, no
    # imports, no programme settings.
    Role(
        "Store clerk",
        (
            "members.use_clerk_screen",
            "members.view_member",
            "members.add_member",
            "members.view_store",
            "ledger.add_transaction",
            "rewards.view_reward",
            "rewards.add_redemption",
            "rewards.view_voucher",
            "rewards.change_voucher",
            "events.check_in_event",
            "events.view_event",
        ),
    ),
    # Customer service handles what members tell us: records feedback and complaints, owns
    # and resolves them, and may grant goodwill points for a complaint (through the ledger,
    # attributed). It finds members and reads their points, but adjusts nothing else.
    Role(
        "Customer service",
        (
            *_crud("add change view", "service.feedback"),
            "service.grant_goodwill",
            "service.view_*",
            "members.view_member",
            "members.view_store",
            "ledger.view_*",
            "tiers.view_*",
            "rewards.view_*",
        ),
    ),
    # Finance reads: analytics, every export, the audit log, and everything else view-only.
    Role(
        "Finance",
        (
            *_view_all(*DOMAIN_APPS),
            "analytics.*",
            "*.export_*",
            "core.view_auditlog",
            "!*.delete_*",
        ),
    ),
    # Administrator may do everything the admin offers, user and group management included
    # (a superuser flag is still needed only to bypass permissions altogether).
    Role("Administrator", ("*.*",)),
)


def _label(perm: Permission) -> str:
    return f"{perm.content_type.app_label}.{perm.codename}"


def role_permissions(*, role: Role, permissions: list[Permission]) -> list[Permission]:
    """The permissions a role grants, among those that exist, in the table's order of rules."""
    chosen: dict[int, Permission] = {}
    for pattern in role.grants:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        for perm in permissions:
            if fnmatchcase(_label(perm), pattern):
                if negate:
                    chosen.pop(perm.pk, None)
                else:
                    chosen[perm.pk] = perm
    return list(chosen.values())


def roles_setup(*, using: str = "default") -> dict[str, int]:
    """Create the role groups and set each one's permissions to the table above (idempotent:
    permissions added by hand to a role group are removed). Returns group name -> count."""
    with transaction.atomic(using=using):
        return _roles_setup(using)


def _roles_setup(using: str) -> dict[str, int]:
    permissions = list(Permission.objects.using(using).select_related("content_type"))
    counts = {}
    for role in ROLES:
        group, _ = Group.objects.using(using).get_or_create(name=role.name)
        granted = role_permissions(role=role, permissions=permissions)
        group.permissions.set(granted)
        counts[role.name] = len(granted)
    return counts
