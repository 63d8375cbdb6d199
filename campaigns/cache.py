"""Active campaigns cached per process (per thread), checked against CampaignStamp.

The stamp is bumped (a fresh random number) by every campaign change; `member_campaigns` reads
it in the same single query as the member's audience rows, so a purchase costs one indexed query
whether or not campaigns are active.
"""

import secrets
import threading
from datetime import datetime
from typing import Any

from django.db import connection

from campaigns.models import Campaign, CampaignAudience, CampaignStamp

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


def campaign_stamp_bump() -> None:
    """Tell every process its cache of active campaigns is stale (one UPDATE). The stamp is a
    fresh random number, not a counter, so a rolled-back change can never be mistaken for a
    later one that reuses its number."""
    version = secrets.randbits(62)
    if not CampaignStamp.objects.filter(pk=1).update(version=version):
        CampaignStamp.objects.update_or_create(pk=1, defaults={"version": version})
