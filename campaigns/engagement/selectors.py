"""Engagement reads: a member's progress (tier, next badge, next reward), badges, stage and
streak; members per stage over time (for analytics); the VIPs of the month."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from campaigns.engagement.models import (
    STAGE_WORDS,
    BadgeRule,
    MemberBadge,
    MemberStage,
    MemberStreak,
    Stage,
    StageCount,
    VipOfMonth,
)
from campaigns.engagement.services import METRIC_OF_KIND, engagement_settings_get, member_metrics
from loyalty.tiers.models import TierPolicy
from loyalty.tiers.selectors import tier_member_progress
from members.models import Member
from rewards.selectors import reward_catalogue_for_member


def _percent(value: Decimal | int, target: Decimal | int) -> int:
    if target <= 0:
        return 100
    return max(0, min(100, int(Decimal(value) * 100 / Decimal(target))))


@dataclass(frozen=True)
class EarnedBadge:
    code: str
    name: str
    description: str
    times: int
    awarded_at: datetime


@dataclass(frozen=True)
class TierStep:
    current: str
    next: str | None
    basis: str  # points | spend
    value: Decimal
    target: Decimal | None
    needed: Decimal | None
    percent: int
    text: str


@dataclass(frozen=True)
class BadgeStep:
    code: str
    name: str
    rule: str
    value: int
    target: int
    needed: int
    percent: int
    text: str


@dataclass(frozen=True)
class RewardStep:
    reward_id: int
    code: str
    name: str
    points_cost: int
    points_needed: int
    percent: int
    text: str


@dataclass(frozen=True)
class StageView:
    code: str
    label: str
    words: str
    since: datetime | None


@dataclass(frozen=True)
class StreakView:
    period: str
    current: int
    longest: int


@dataclass(frozen=True)
class MemberProgress:
    member_id: int
    stage: StageView | None
    streak: StreakView
    badges: list[EarnedBadge]
    tier: TierStep | None
    next_badge: BadgeStep | None
    next_reward: RewardStep | None
    rewards_affordable_now: int


def member_badges(*, member_id: int) -> list[EarnedBadge]:
    """The badges a member holds, newest first (a repeatable badge once, with how many times)."""
    latest: dict[int, EarnedBadge] = {}
    for badge in (
        MemberBadge.objects.filter(member_id=member_id)
        .select_related("rule")
        .order_by("-sequence", "-awarded_at", "-pk")
    ):
        if badge.rule_id not in latest:
            latest[badge.rule_id] = EarnedBadge(
                badge.rule.code,
                badge.rule.name,
                badge.rule.description or badge.rule.describe(),
                badge.sequence,
                badge.awarded_at,
            )
    return sorted(latest.values(), key=lambda b: (b.awarded_at, b.name), reverse=True)


def member_stage_get(*, member_id: int) -> StageView | None:
    row = MemberStage.objects.filter(member_id=member_id).first()
    if row is None:
        return None
    stage = Stage(row.stage)
    return StageView(stage.value, str(stage.label), str(STAGE_WORDS[stage]), row.since)


def member_streak_get(*, member_id: int) -> StreakView:
    row = MemberStreak.objects.filter(member_id=member_id).first()
    if row is None:
        return StreakView(engagement_settings_get().streak_period, 0, 0)
    return StreakView(row.period, row.current, row.longest)


def _tier_step(member: Member) -> TierStep | None:
    progress = tier_member_progress(member=member)
    if progress is None or progress.tier is None:
        return None
    nxt = progress.next_tier
    spend = progress.basis == TierPolicy.Basis.SPEND
    value = Decimal(progress.qualifying_value)
    if nxt is None:
        return TierStep(
            progress.tier.name, None, progress.basis, value, None, None, 100, _("Top tier.")
        )
    needed = Decimal(progress.needed_for_next or 0)
    what = _("spend") if spend else _("qualifying points")
    text = _("%(needed)s more %(what)s to reach %(tier)s") % {
        "needed": f"{needed:,.2f}" if spend else f"{int(needed):,}",
        "what": what,
        "tier": nxt.name,
    }
    return TierStep(
        progress.tier.name,
        nxt.name,
        progress.basis,
        value,
        Decimal(nxt.threshold),
        needed,
        _percent(value, nxt.threshold),
        text,
    )


def _next_badge(member: Member, held: dict[int, int]) -> BadgeStep | None:
    rules = [
        r
        for r in BadgeRule.objects.filter(active=True).select_related("tier")
        if r.kind != BadgeRule.Kind.TIER_REACHED  # the tier bar shows that one
        and (r.repeatable or r.pk not in held)
    ]
    if not rules:
        return None
    metrics = member_metrics(member_ids=[member.pk]).values(*set(METRIC_OF_KIND.values())).first()
    if metrics is None:
        return None
    best: BadgeStep | None = None
    for rule in rules:
        value = int(metrics[METRIC_OF_KIND[rule.kind]])
        target = rule.threshold * (held.get(rule.pk, 0) + 1) if rule.repeatable else rule.threshold
        if value >= target:
            continue  # earned, awarded by the next run
        step = BadgeStep(
            rule.code,
            rule.name,
            rule.describe(),
            value,
            target,
            target - value,
            _percent(value, target),
            _("%(n)s to go for the %(badge)s badge") % {"n": target - value, "badge": rule.name},
        )
        if best is None or (step.percent, -step.needed) > (best.percent, -best.needed):
            best = step
    return best


def _next_reward(member: Member, catalogue: list[Any] | None) -> tuple[RewardStep | None, int]:
    if catalogue is None:
        catalogue = reward_catalogue_for_member(member=member)
    affordable = sum(1 for item in catalogue if item.can_redeem)
    short = [item for item in catalogue if item.reason_code == "insufficient_points"]
    if not short:
        return None, affordable
    item = min(short, key=lambda i: (i.points_short, i.reward.points_cost, i.reward.pk))
    reward = item.reward
    have = reward.points_cost - item.points_short
    return (
        RewardStep(
            reward.pk,
            reward.code,
            reward.name,
            reward.points_cost,
            item.points_short,
            _percent(have, reward.points_cost),
            _("%(points)s points to %(reward)s")
            % {"points": f"{item.points_short:,}", "reward": reward.name},
        ),
        affordable,
    )


def member_progress(*, member: Member, catalogue: list[Any] | None = None) -> MemberProgress:
    """Everything the member's progress shows (API, clerk screen, member page). A fixed number
    of queries whatever the history: badges, stage, streak, tier progress, metrics, catalogue.
    `catalogue`: the member's reward catalogue when the caller already read it (the clerk card)."""
    badges = list(
        MemberBadge.objects.filter(member_id=member.pk)
        .select_related("rule")
        .order_by("-sequence", "-awarded_at", "-pk")
    )
    held: dict[int, int] = {}
    earned: dict[int, EarnedBadge] = {}
    for badge in badges:
        held[badge.rule_id] = max(held.get(badge.rule_id, 0), badge.sequence)
        if badge.rule_id not in earned:
            earned[badge.rule_id] = EarnedBadge(
                badge.rule.code,
                badge.rule.name,
                badge.rule.description or badge.rule.describe(),
                badge.sequence,
                badge.awarded_at,
            )
    next_reward, affordable = _next_reward(member, catalogue)
    return MemberProgress(
        member_id=member.pk,
        stage=member_stage_get(member_id=member.pk),
        streak=member_streak_get(member_id=member.pk),
        badges=sorted(earned.values(), key=lambda b: (b.awarded_at, b.name), reverse=True),
        tier=_tier_step(member),
        next_badge=_next_badge(member, held),
        next_reward=next_reward,
        rewards_affordable_now=affordable,
    )


# ------------------------------------------------------------------------------- analytics
def stage_counts_over_time(*, start: date, end: date) -> list[dict[str, Any]]:
    """Members per stage per day from `start` to `end` inclusive (days the nightly job ran),
    oldest first: [{"day": date, "counts": {stage: n, ...}}]. For analytics."""
    days: dict[date, dict[str, int]] = {}
    for row in StageCount.objects.filter(day__gte=start, day__lte=end).order_by("day", "stage"):
        days.setdefault(row.day, {s: 0 for s in Stage.values})[row.stage] = row.members
    return [{"day": day, "counts": counts} for day, counts in sorted(days.items())]


def stage_counts_now() -> dict[str, int]:
    from django.db.models import Count

    counts = {s: 0 for s in Stage.values}
    counts.update(
        MemberStage.objects.filter(member__erased_at__isnull=True)
        .values_list("stage")
        .annotate(n=Count("pk"))
        .values_list("stage", "n")
    )
    return counts


def vip_list() -> QuerySet[VipOfMonth]:
    return VipOfMonth.objects.select_related("member").order_by("-month")


def member_engagement_export(member: Any) -> dict[str, Any]:
    """The engagement section of a member's privacy export: badges, stage history, streak,
    events attended and VIP months."""
    from campaigns.engagement.models import EventAttendance, StageChange

    streak = MemberStreak.objects.filter(member_id=member.pk).first()
    return {
        "badges": [
            {
                "badge": row.rule.name,
                "times": row.sequence,
                "awarded_at": row.awarded_at.isoformat(),
            }
            for row in MemberBadge.objects.filter(member_id=member.pk)
            .select_related("rule")
            .order_by("awarded_at", "id")
        ],
        "stage_history": [
            {"from": row.from_stage, "to": row.to_stage, "at": row.changed_at.isoformat()}
            for row in StageChange.objects.filter(member_id=member.pk).order_by("changed_at", "id")
        ],
        "streak": {"period": streak.period, "current": streak.current, "longest": streak.longest}
        if streak
        else None,
        "events": [
            {"event": row.event_ref, "at": row.attended_at.isoformat()}
            for row in EventAttendance.objects.filter(member_id=member.pk).order_by("attended_at")
        ],
        "vip_months": [
            row.month.isoformat() for row in VipOfMonth.objects.filter(member_id=member.pk)
        ],
    }
