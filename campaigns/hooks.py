"""How campaigns plug into the ledger (registered in CampaignsConfig.ready()).

`campaigns_after_posting` runs inside the transaction that posts a purchase or a return
(loyalty.ledger.rules.register_after_posting_hook), after the earning engine's entries: campaign
points are separate BONUS entries ("campaign:<id>:purchase:<txn>") so each campaign's budget is
checked under its own row lock, and a return takes them back in proportion.

Active campaigns are cached per process. The cache is checked against CampaignStamp (bumped by
every campaign change) in the same query that reads the member's audience rows: a purchase costs
ONE indexed query more when campaigns are active (and one primary-key read when none are).
"""

import threading
from datetime import datetime
from typing import Any

from django.db import connection

from campaigns.mechanics import PURCHASE_MECHANICS, apply_stacking, earn_points_of, purchase_wanted
from campaigns.models import Campaign, CampaignAudience, CampaignStamp
from loyalty.ledger.models import Transaction

_cache = threading.local()


def _load(version: int) -> list[Campaign]:
    campaigns = list(
        Campaign.objects.filter(status=Campaign.Status.ACTIVE).order_by("priority", "pk")
    )
    _cache.version, _cache.campaigns = version, campaigns
    return campaigns


def _stamp() -> int:
    return CampaignStamp.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def cache_clear() -> None:
    _cache.__dict__.clear()


def active_campaigns(moment: datetime | None = None) -> list[Campaign]:
    """Active campaigns whose window holds `moment` (fresh: reads the stamp)."""
    version = _stamp()
    campaigns = _cache.campaigns if getattr(_cache, "version", None) == version else _load(version)
    if moment is None:
        return list(campaigns)
    return [c for c in campaigns if c.starts_at <= moment < c.ends_at]


def member_campaigns(member_id: int, moment: datetime) -> list[tuple[Campaign, bool | None]]:
    """(campaign, holdout) for the active campaigns in their window at `moment`; holdout None
    means the member has no audience row (not targeted, or a segment-less campaign's new
    member). One query: the stamp and the audience rows together."""
    cached = getattr(_cache, "campaigns", None)
    if cached is None:
        cached = _load(_stamp())
        ids = [c.pk for c in cached]
        rows = (
            dict(
                CampaignAudience.objects.filter(
                    member_id=member_id, campaign_id__in=ids
                ).values_list("campaign_id", "holdout")
            )
            if ids
            else {}
        )
    else:
        ids = [c.pk for c in cached]
        table = CampaignAudience._meta.db_table
        stamp = CampaignStamp._meta.db_table
        sql = f"SELECT -1, version FROM {stamp} WHERE id = 1"
        params: list[Any] = []
        if ids:
            marks = ", ".join(["%s"] * len(ids))
            sql += (
                f" UNION ALL SELECT campaign_id, CASE WHEN holdout THEN 1 ELSE 0 END FROM {table}"
                f" WHERE member_id = %s AND campaign_id IN ({marks})"
            )
            params = [member_id, *ids]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        version = next((v for k, v in fetched if k == -1), 0)
        if version != _cache.version:
            return _reload_and_read(member_id, moment)
        rows = {k: bool(v) for k, v in fetched if k != -1}
    return [(c, rows.get(c.pk)) for c in _cache.campaigns if c.starts_at <= moment < c.ends_at]


def _reload_and_read(member_id: int, moment: datetime) -> list[tuple[Campaign, bool | None]]:
    campaigns = _load(_stamp())
    ids = [c.pk for c in campaigns]
    rows = dict(
        CampaignAudience.objects.filter(member_id=member_id, campaign_id__in=ids).values_list(
            "campaign_id", "holdout"
        )
    )
    return [(c, rows.get(c.pk)) for c in campaigns if c.starts_at <= moment < c.ends_at]


def campaigns_on_purchase(*, txn: Transaction, earn_points: int, lines: list | None) -> int:
    """Apply the active campaigns to a posted purchase; returns the points given."""
    from campaigns.services import audience_row, campaign_award, cap_reached, referral_on_purchase

    if txn.member_id is None:
        return 0
    member = txn.member
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
