"""How campaigns plug into the ledger (registered in CampaignsConfig.ready()).

`campaigns_after_posting` runs inside the transaction that posts a purchase or a return
(loyalty.ledger.rules.register_after_posting_hook), after the earning engine's entries: campaign
points are separate BONUS entries ("campaign:<id>:purchase:<txn>") so each campaign's budget is
checked under its own row lock, and a return takes them back in proportion.

Active campaigns are cached per process. The cache is checked against CampaignStamp (bumped by
every campaign change) in the same query that reads the member's audience rows: a purchase costs
ONE indexed query more when campaigns are active (and one primary-key read when none are).
"""

from typing import Any

from campaigns.cache import active_campaigns, cache_clear, member_campaigns  # noqa: F401
from campaigns.mechanics import PURCHASE_MECHANICS, apply_stacking, earn_points_of, purchase_wanted
from campaigns.models import Campaign
from loyalty.ledger.models import Transaction


def campaigns_on_purchase(*, txn: Transaction, earn_points: int, lines: list | None) -> int:
    """Apply the active campaigns to a posted purchase; returns the points given."""
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
    # budgets are locked in campaign pk order (after the account the purchase holds)
    for want in sorted(apply_stacking(wanted), key=lambda w: w.campaign.pk):
        result = campaign_award(
            campaign=want.campaign,
            member=member,
            points=want.points,
            source=want.source,
            occurred_at=txn.occurred_at,
            transaction_row=txn,
            pending=True,
            detail=want.detail,
            fresh=want.source == f"purchase:{txn.pk}",
        )
        given += result.points
    return given


def campaigns_after_posting(*, transaction: Transaction, result: Any) -> None:
    if transaction.member_id is None:
        return
    if transaction.kind == Transaction.Kind.PURCHASE:
        given = campaigns_on_purchase(
            txn=transaction, earn_points=earn_points_of(result.entries), lines=None
        )
        account = getattr(result, "account", None)
        if given and account is not None:
            # the purchase's answer shows the balance with the campaign points
            account.refresh_from_db(fields=["balance", "debt", "lifetime_earned"])
    elif transaction.original_id is not None:
        from campaigns.services import campaign_awards_reverse_for_return, referral_void_for_return

        referral_void_for_return(return_txn=transaction)
        campaign_awards_reverse_for_return(return_txn=transaction)
