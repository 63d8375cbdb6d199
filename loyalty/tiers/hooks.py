"""How tiers plug into the ledger's earning engine (registered in TiersConfig.ready())."""

import logging
from typing import Any

from django.utils.translation import gettext as _

from loyalty.ledger.models import Transaction
from loyalty.ledger.rules import Contribution, EarningContext
from loyalty.tiers.exceptions import TierConfigurationError
from loyalty.tiers.models import Tier, TierAssignment, TierPolicy

logger = logging.getLogger(__name__)


def tier_multiplier_contributor(ctx: EarningContext) -> list[Contribution]:
    """The current tier's earn multiplier; the engine records it on the entry as "tier:<code>".
    A quote with no member but a tier code (the rule simulator's "or tier") gets that tier's."""
    if ctx.member is None or ctx.member.pk is None:
        if ctx.member is None and ctx.tier_code:
            return tier_contributions(Tier.objects.filter(code=ctx.tier_code).first())
        return []
    from loyalty.tiers.selectors import tier_ladder

    ladder = tier_ladder()  # this process's cache
    tier_id = (
        TierAssignment.objects.filter(member_id=ctx.member.pk, valid_to__isnull=True)
        .values_list("tier_id", flat=True)
        .first()
    )
    if tier_id is None:
        return tier_contributions(ladder[0] if ladder else None)  # entry tier
    tier = next((t for t in ladder if t.pk == tier_id), None)
    if tier is None:  # a tier added since the cache was loaded (at most a second ago)
        tier = Tier.objects.get(pk=tier_id)
    return tier_contributions(tier)


def tier_contributions(tier: Tier | None) -> list[Contribution]:
    """What a member holding `tier` gets from the earning engine (also used by the bulk import)."""
    if tier is None:
        return []
    return [
        Contribution(
            source=f"tier:{tier.code}",
            label=_("%(name)s tier") % {"name": tier.name},
            multiplier=tier.earn_multiplier,
        )
    ]


def tier_quote_choices() -> list[tuple[str, str]]:
    """The tiers the rule simulator may quote for, lowest first, with their multiplier."""
    return [
        (tier.code, _("%(name)s (x%(m)s)") % {"name": tier.name, "m": f"{multiplier:f}"})
        for tier in Tier.objects.order_by("rank")
        for multiplier in (tier.earn_multiplier.normalize(),)
    ]


def tier_upgrade_after_posting(*, transaction: Transaction, result: Any) -> None:
    """Upgrade in the request that posts the purchase (same database transaction). Returns
    downgrade at once only in the policy's "immediate" mode; otherwise they are counted when
    the period-end job judges the window."""
    if transaction.member_id is None:
        return
    downgrade = False
    if transaction.kind != Transaction.Kind.PURCHASE:
        from loyalty.tiers.selectors import tier_policy_get

        immediate = tier_policy_get().downgrade_mode == TierPolicy.DowngradeMode.IMMEDIATE
        if transaction.kind != Transaction.Kind.RETURN or not immediate:
            return
        downgrade = True
    from loyalty.tiers.services import tier_evaluate_member

    member = transaction.member
    if member is None:  # not reached: member_id was checked above
        return
    try:
        tier_evaluate_member(
            member=member,
            actor=transaction.created_by,
            imported=transaction.channel == Transaction.Channel.IMPORT,  # no gifts for history
            downgrade=downgrade,
        )
    except TierConfigurationError as exc:
        # a broken ladder must not stop the tills: the purchase posts, the upgrade waits for
        # the next purchase or the nightly job once staff fix the tiers
        logger.error("tier upgrade skipped for member %s: %s", transaction.member_id, exc)
