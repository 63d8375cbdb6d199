"""A campaign's results: targeted vs holdout, and the lift with its 95% confidence interval.

Groups are the audience fixed at launch (CampaignAudience): targeted (not held out) and holdout.
Over a window (the campaign's by default) and per group:
- response / reactivation rate: share of the group's members with at least one purchase in the
  window (for a win-back campaign over lapsed members, that is the reactivation rate);
- repeat rate: members with 2+ purchases / members with 1+;
- revenue per member: net purchases (purchases - returns) in the window / group size;
- redemptions: completed redemptions in the window;
- participants (targeted only): members who received campaign points.

Lift = response rate (targeted) - response rate (holdout), in percentage points. Its 95%
confidence interval is the normal-approximation (Wald) interval for a difference of two
independent proportions: diff +- 1.96 x sqrt(p1(1-p1)/n1 + p2(1-p2)/n2), unpooled variances.
It is None when a group is empty. Assignment is random (stable hash), so the interval
contains 0 about 95% of the time when the campaign does nothing (the A/A check).
"""

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from campaigns.models import Campaign, CampaignAward

Z95 = 1.959964


@dataclass
class GroupResult:
    members: int = 0
    purchasers: int = 0
    repeaters: int = 0
    revenue: Decimal = Decimal("0")
    redemptions: int = 0

    @property
    def response_rate(self) -> float | None:
        return self.purchasers / self.members if self.members else None

    @property
    def repeat_rate(self) -> float | None:
        return self.repeaters / self.purchasers if self.purchasers else None

    @property
    def revenue_per_member(self) -> Decimal | None:
        return (self.revenue / self.members).quantize(Decimal("0.01")) if self.members else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            response_rate=self.response_rate,
            repeat_rate=self.repeat_rate,
            revenue_per_member=self.revenue_per_member,
        )
        return data


@dataclass
class CampaignResults:
    campaign_id: int
    start: datetime
    end: datetime
    targeted: GroupResult = field(default_factory=GroupResult)
    holdout: GroupResult = field(default_factory=GroupResult)
    participants: int = 0
    points_awarded: int = 0
    points_budget: int | None = None
    lift: float | None = None  # percentage points
    lift_low: float | None = None
    lift_high: float | None = None


def lift_interval(
    p1: int, n1: int, p2: int, n2: int
) -> tuple[float | None, float | None, float | None]:
    """(diff, low, high) in percentage points for successes p / group size n (see module doc)."""
    if not n1 or not n2:
        return None, None, None
    r1, r2 = p1 / n1, p2 / n2
    se = math.sqrt(r1 * (1 - r1) / n1 + r2 * (1 - r2) / n2)
    diff = r1 - r2
    return 100 * diff, 100 * (diff - Z95 * se), 100 * (diff + Z95 * se)


SQL = """
SELECT a.holdout,
       COUNT(*),
       SUM(CASE WHEN t.n >= 1 THEN 1 ELSE 0 END),
       SUM(CASE WHEN t.n >= 2 THEN 1 ELSE 0 END),
       SUM(COALESCE(t.net, 0)),
       SUM(COALESCE(r.k, 0))
FROM campaigns_campaignaudience a
LEFT JOIN (
    SELECT member_id,
           SUM(CASE WHEN kind = 'purchase' THEN 1 ELSE 0 END) AS n,
           SUM(CASE WHEN kind = 'purchase' THEN amount ELSE -amount END) AS net
    FROM ledger_transaction
    WHERE member_id IS NOT NULL AND occurred_at >= %s AND occurred_at < %s
    GROUP BY member_id
) t ON t.member_id = a.member_id
LEFT JOIN (
    SELECT member_id, COUNT(*) AS k FROM rewards_redemption
    WHERE status = 'completed' AND created_at >= %s AND created_at < %s
    GROUP BY member_id
) r ON r.member_id = a.member_id
WHERE a.campaign_id = %s
GROUP BY a.holdout
"""


def campaign_results(
    campaign: Campaign, *, start: datetime | None = None, end: datetime | None = None
) -> CampaignResults:
    """Results over [start, end) (the campaign's window by default): one grouped query."""
    start = start or campaign.starts_at
    end = end or campaign.ends_at
    results = CampaignResults(
        campaign_id=campaign.pk,
        start=start,
        end=end,
        points_awarded=campaign.points_awarded,
        points_budget=campaign.points_budget,
    )
    with connection.cursor() as cursor:
        cursor.execute(SQL, [start, end, start, end, campaign.pk])
        for holdout, n, purchasers, repeaters, revenue, redemptions in cursor.fetchall():
            group = GroupResult(
                members=n,
                purchasers=int(purchasers or 0),
                repeaters=int(repeaters or 0),
                revenue=Decimal(str(revenue or 0)).quantize(Decimal("0.01")),
                redemptions=int(redemptions or 0),
            )
            if holdout:
                results.holdout = group
            else:
                results.targeted = group
    results.participants = (
        CampaignAward.objects.filter(campaign=campaign, status=CampaignAward.Status.AWARDED)
        .values("member_id")
        .distinct()
        .count()
    )
    results.lift, results.lift_low, results.lift_high = lift_interval(
        results.targeted.purchasers,
        results.targeted.members,
        results.holdout.purchasers,
        results.holdout.members,
    )
    return results


def results_dict(results: CampaignResults) -> dict[str, Any]:
    return {
        "campaign_id": results.campaign_id,
        "start": results.start,
        "end": results.end,
        "targeted": results.targeted.as_dict(),
        "holdout": results.holdout.as_dict(),
        "participants": results.participants,
        "points_awarded": results.points_awarded,
        "points_budget": results.points_budget,
        "lift": results.lift,
        "lift_low": results.lift_low,
        "lift_high": results.lift_high,
    }
