"""How campaigns plug into the ledger (registered in CampaignsConfig.ready()).

`campaigns_after_posting` runs inside the transaction that posts a purchase or a return
(loyalty.ledger.rules.register_after_posting_hook), after the earning engine's entries: campaign
points are separate BONUS entries ("campaign:<id>:purchase:<txn>") so each campaign's budget is
checked under its own row lock, and a return takes them back in proportion.

Active campaigns are cached per process (campaigns/cache.py, on loyalty/core/config_cache.py's
version stamp): a purchase costs ONE indexed query more (the member's audience rows) when
campaigns are active at its moment, and none when none are.
"""

from typing import Any

from django.db.models import F

from campaigns.cache import active_campaigns, cache_clear, member_campaigns  # noqa: F401
from campaigns.counts import counts_take
from campaigns.mechanics import PURCHASE_MECHANICS, apply_stacking, earn_points_of, purchase_wanted
from campaigns.models import Campaign
from loyalty.ledger.models import Transaction


def campaigns_on_purchase(
    *, txn: Transaction, earn_points: int, lines: list | None, account: Any = None
) -> int:
    """Apply the active campaigns to a posted purchase; returns the points given. `account`:
    the member's account the purchase's posting holds locked (the awards post on it directly)."""
    from campaigns.services import audience_row, campaign_award, cap_reached, referral_on_purchase

    member = txn.member  # no query when member_id is None
    if member is None or txn.member_id is None:
        return 0
    wanted = []
    for campaign, holdout in member_campaigns(txn.member_id, txn.occurred_at):
        if campaign.mechanic not in PURCHASE_MECHANICS:
            continue
        if holdout is None and campaign.segment_id is None:
            holdout = audience_row(campaign=campaign, member_id=txn.member_id)
        if holdout is None or holdout:
            continue
        if campaign.mechanic == Campaign.Mechanic.REFERRAL:
            referral_on_purchase(campaign=campaign, txn=txn)
            continue
        want = purchase_wanted(campaign, txn=txn, earn_points=earn_points, lines=lines)
        if want is None:
            continue
        if cap_reached(campaign=campaign, member_id=txn.member_id, moment=txn.occurred_at):
            continue
        wanted.append(want)
    given = 0
    awards = sorted(apply_stacking(wanted), key=lambda w: w.campaign.pk)
    balance = ["balance", "debt", "lifetime_earned"]
    if account is not None and any(w.source == f"purchase:{txn.pk}" for w in awards):
        # awards named after the purchase post on `account` itself: first take in what other
        # hooks (a tier gift) or a referral posted through their own copy of the locked row
        account.refresh_from_db(fields=balance)
    # budgets are locked in campaign pk order (after the account the purchase holds)
    for want in awards:
        fresh = account is not None and want.source == f"purchase:{txn.pk}"
        result = campaign_award(
            campaign=want.campaign,
            member=member,
            points=want.points,
            source=want.source,
            occurred_at=txn.occurred_at,
            transaction_row=txn,
            pending=True,
            detail=want.detail,
            fresh=fresh,
            account=account,
        )
        given += result.points
        if account is not None and not fresh and result.points:
            account.refresh_from_db(fields=balance)  # posted through its own copy of the row
    return given


def campaign_counts_flush(*, transaction: Transaction, result: Any) -> None:
    """Add the points counted later to the campaigns' points_awarded, in campaign pk order, as
    the posting's last statements: the campaign row locks these UPDATEs take are held only
    until the commit that follows, not through the rest of the posting (docs/performance.md)."""
    from campaigns.exceptions import CampaignBudgetChanged
    from campaigns.services import _budget_take

    pending = counts_take()
    if pending is None or pending[0] != transaction.pk:
        return
    for campaign_id, points in sorted(pending[1].items()):
        added = Campaign.objects.filter(pk=campaign_id, points_budget__isnull=True).update(
            points_awarded=F("points_awarded") + points
        )
        # a budget set since this process cached the campaign: within it, or refuse the purchase
        # (the till sends it again and the fresh cache cuts the award by the budget rule)
        if not added and not _budget_take(campaign_id, points):
            raise CampaignBudgetChanged()


def campaigns_after_posting(*, transaction: Transaction, result: Any) -> None:
    counts_take()  # a posting that failed earlier on this thread may have left its counts
    if transaction.member_id is None:
        return
    if transaction.kind == Transaction.Kind.PURCHASE:
        account = getattr(result, "account", None)
        campaigns_on_purchase(
            txn=transaction,
            earn_points=earn_points_of(result.entries),
            lines=None,
            account=account,
        )
        # `account` (the purchase's answer shows its balance) has the campaign points already:
        # awards named after the purchase posted on it, the others were read back after them
    elif transaction.original_id is not None:
        from campaigns.services import campaign_awards_reverse_for_return, referral_void_for_return

        referral_void_for_return(return_txn=transaction)
        campaign_awards_reverse_for_return(return_txn=transaction)
