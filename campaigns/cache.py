"""Active campaigns cached per process (per thread), on the configuration cache of
loyalty/core/config_cache.py: the same version stamp as the programme settings, the rules and
the tier ladder, moved by every campaign save (post_save / post_delete) and by the campaign
services (`campaign_stamp_bump`). With the stamp standing, a purchase reads the member's audience
rows only when a campaign is active at its moment (one indexed query), none otherwise.

The cached rows' `points_awarded` is not kept current (purchases add to it with an UPDATE that
does not move the stamp): the budget is checked under the campaign's row lock (hooks.py).
"""

from datetime import datetime

from campaigns.models import Campaign, CampaignAudience
from loyalty.core import config_cache


def _active_fresh() -> list[Campaign]:
    return list(Campaign.objects.filter(status=Campaign.Status.ACTIVE).order_by("priority", "pk"))


config_cache.register("campaigns.active", _active_fresh, models=[Campaign])


def cache_clear() -> None:
    """Drop this thread's configuration caches (tests)."""
    config_cache.cache_clear()


def active_campaigns(moment: datetime | None = None) -> list[Campaign]:
    """Active campaigns whose window holds `moment` (all active ones without a moment)."""
    campaigns = config_cache.cached("campaigns.active")
    if moment is None:
        return list(campaigns)
    return [c for c in campaigns if c.starts_at <= moment < c.ends_at]


def member_campaigns(member_id: int, moment: datetime) -> list[tuple[Campaign, bool | None]]:
    """(campaign, holdout) for the active campaigns in their window at `moment`; holdout None
    means the member has no audience row (not targeted, or a segment-less campaign's new
    member). No query when none is active at `moment`; else one (the member's audience rows)."""
    campaigns = active_campaigns(moment)
    if not campaigns:
        return []
    rows = dict(
        CampaignAudience.objects.filter(
            member_id=member_id, campaign_id__in=[c.pk for c in campaigns]
        ).values_list("campaign_id", "holdout")
    )
    return [(c, rows.get(c.pk)) for c in campaigns]


def campaign_stamp_bump() -> None:
    """Tell every process its cache of active campaigns (and the rest of the configuration) is
    stale: one UPDATE of the core stamp, in the caller's transaction."""
    config_cache.stamp_bump()
