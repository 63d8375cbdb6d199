"""Promo codes and usage caps of earning rules, counted under locks.

Lock order in a purchase: the member's account (per-member caps are counted under it), then the
capped rules' rows in pk order (total caps), then the promo code's row. So racing purchases never
apply a rule more often than its caps allow, nor a single-use code twice.
"""

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils.translation import gettext as _

from loyalty.ledger import rules as engine
from loyalty.ledger.models import EarningRule, EarningRuleUse, PromoCode, Transaction


def usage_period_bounds(programme: Any, moment: datetime, period: str) -> tuple[datetime, datetime]:
    """The day, week (Monday to Sunday), calendar month or year holding `moment`, in the
    programme's time zone."""
    zone = ZoneInfo(programme.time_zone)
    day = moment.astimezone(zone).date()
    if period == EarningRule.UsagePeriod.DAY:
        start, end = day, day + timedelta(days=1)
    elif period == EarningRule.UsagePeriod.WEEK:
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif period == EarningRule.UsagePeriod.MONTH:
        start = day.replace(day=1)
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        start, end = date(day.year, 1, 1), date(day.year + 1, 1, 1)
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end, time.min, tzinfo=zone),
    )


def promo_code_get(*, code: str, occurred_at: datetime, lock: bool) -> PromoCode:
    """The promo code a purchase carries, if it can be used at `occurred_at`. Locked (for the
    use count) when `lock`. Raises ValidationError on the `promo_code` field otherwise: an
    unknown, inactive, expired or used-up code refuses the purchase, which changes nothing."""
    codes = PromoCode.objects.select_related("rule")
    if lock:
        codes = codes.select_for_update(of=("self",))
    promo = codes.filter(code=code.strip().upper()).first() if code.strip() else None
    if promo is None:
        raise ValidationError({"promo_code": [_("Unknown promo code.")]})
    if not promo.active or not promo.rule.active:
        raise ValidationError({"promo_code": [_("This promo code is not active.")]})
    if (promo.starts_at and occurred_at < promo.starts_at) or (
        promo.ends_at and occurred_at >= promo.ends_at
    ):
        raise ValidationError({"promo_code": [_("This promo code is not valid at this time.")]})
    if promo.max_uses is not None:
        used = Transaction.objects.filter(promo_code=promo).count()
        if used >= promo.max_uses:
            raise ValidationError({"promo_code": [_("This promo code has been used up.")]})
    return promo


def rule_uses_left(
    *,
    programme: Any,
    rules: list[EarningRule],
    ctx: engine.EarningContext,
    lock: bool,
) -> dict[int, int | None]:
    """Uses left of each capped rule that could apply to this purchase. With `lock`, the rows of
    the rules with a total cap are locked first (pk order); per-member counts rely on the
    member's account lock the caller holds."""
    capped = [rule for rule in engine.candidate_rules(rules, ctx) if rule.has_usage_caps]
    if not capped:
        return {}
    with_total = sorted(rule.pk for rule in capped if rule.max_uses_total)
    if lock and with_total:
        list(
            EarningRule.objects.filter(pk__in=with_total)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", flat=True)
        )
    totals = dict(
        EarningRuleUse.objects.filter(rule_id__in=with_total)
        .values_list("rule_id")
        .annotate(n=Count("id"))
        .values_list("rule_id", "n")
    )
    member_id = ctx.member.pk if ctx.member is not None else None
    left: dict[int, int | None] = {}
    for rule in capped:
        mine = EarningRuleUse.objects.filter(rule=rule)
        # an anonymous purchase: the same IS NULL query `member_id=None` ran (it matches none)
        mine = (
            mine.filter(member_id=member_id)
            if member_id is not None
            else mine.filter(member_id__isnull=True)
        )
        by_member = mine.count() if rule.max_uses_per_member else 0
        in_period = 0
        if rule.max_uses_per_period:
            start, end = usage_period_bounds(programme, ctx.occurred_at, rule.usage_period)
            in_period = mine.filter(used_at__gte=start, used_at__lt=end).count()
        left[rule.pk] = engine.uses_left(
            rule, total=totals.get(rule.pk, 0), by_member=by_member, by_member_in_period=in_period
        )
    return left


def rule_uses_record(
    *, rules: list[EarningRule], used: list[int], transaction: Transaction
) -> None:
    """One use per capped rule that applied to this purchase (what the caps count)."""
    if transaction.member_id is None:
        raise ValueError("Rule uses count a member's purchases; this purchase is anonymous.")
    capped = {rule.pk for rule in rules if rule.has_usage_caps}
    EarningRuleUse.objects.bulk_create(
        EarningRuleUse(
            rule_id=pk,
            member_id=transaction.member_id,
            transaction=transaction,
            used_at=transaction.occurred_at,
        )
        for pk in used
        if pk in capped
    )
