"""The earning engine: what a purchase earns, and why.

Order (each step recorded in the result, so every entry says which rules produced it):
1. Eligible amount: what was paid with money. The part paid with points earns nothing; lines
   whose sku or category the programme excludes earn nothing (line totals are scaled to the
   bill, so discounts are honoured).
2. Minimum spend: the programme's, and any active minimum-spend rule; below it nothing is earned.
3. Base points: eligible amount x the programme's points per unit.
4. Multipliers: whole-basket multiplier rules multiply each other; sku/category multiplier rules
   add their extra on the matching lines' share (x0: those lines earn nothing); contributors
   (tiers, campaigns) multiply last and are always recorded, x1 included.
5. Rounding, once, on the whole transaction (floor by default).
6. Caps: per transaction, then per member per day and per month (points already earned count);
   what they withheld is `points_uncollected`.
7. Fixed bonuses (rules and contributors) come as separate bonus lines, not capped. A bonus rule
   with a sku/category filter needs a matching line, and its line names the lines that did it.

Multiplier and bonus rules run by priority (then id). Each may carry conditions (minimum
quantity or amount of its matching lines, a required product, a promo code) and usage caps
(`uses_left`, counted by the caller under locks); a rule that applies with `stop_further` set
keeps the multiplier and bonus rules after it from applying to the same purchase.

Upper apps add multipliers and bonuses through `register_contributor`, and react to a posted
purchase or return inside the same database transaction through `register_after_posting_hook`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from loyalty.core import config_cache
from loyalty.ledger.models import EarningRule, ProgrammeSettings

ZERO = Decimal("0")


@dataclass(frozen=True)
class EarningLine:
    sku: str
    category: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class EarningContext:
    member: Any  # members.Member or None (anonymous: earns nothing, but is quoted the same way)
    channel: str
    store_code: str | None
    occurred_at: datetime
    local_date: date
    amount: Decimal
    amount_paid_with_points: Decimal
    lines: tuple[EarningLine, ...] = ()
    promo_code: str = ""  # the code the purchase carries, accepted by the caller
    promo_rule_id: int | None = None  # the rule that code unlocks
    # a quote "for a tier" with no member (the rule simulator): the code of the tier whose
    # contributions to apply; the app owning tiers reads it in its contributor
    tier_code: str = ""


@dataclass(frozen=True)
class Contribution:
    source: str  # e.g. "tier:gold", "campaign:12"
    label: str
    multiplier: Decimal | None = None
    bonus_points: int = 0


@dataclass
class BonusLine:
    source: str
    label: str
    points: int
    lines: list[dict[str, str]] = field(default_factory=list)  # the lines that triggered it

    def explanation(self) -> dict[str, Any]:
        """What the bonus entry stores in `rules`."""
        explained: dict[str, Any] = {"source": self.source, "name": self.label}
        if self.lines:
            explained["lines"] = self.lines
        return explained


@dataclass
class EarnResult:
    eligible_amount: Decimal = ZERO
    points: int = 0  # the earn entry: base x multipliers, rounded, capped
    points_uncollected: int = 0  # what the caps withheld
    bonuses: list[BonusLine] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)
    used_rules: list[int] = field(default_factory=list)  # multiplier/bonus rules that applied

    @property
    def total(self) -> int:
        return self.points + sum(b.points for b in self.bonuses)

    def explanation(self) -> list[dict[str, Any]]:
        """Every step and rule, the bonus lines' included (what the API answers as `rules`)."""
        return self.applied + [b.explanation() for b in self.bonuses if b.points > 0]


Contributor = Callable[[EarningContext], list[Contribution]]
AfterPostingHook = Callable[..., None]
CONTRIBUTORS: list[Contributor] = []
AFTER_POSTING_HOOKS: list[AfterPostingHook] = []
# Bulk paths (the transaction import) cannot call per-purchase contributors and hooks that read
# and write the database one purchase at a time. An app that registers them can also register a
# simulator class that reproduces them in memory for a whole import (loyalty/ledger/bulk.py
# describes the interface); a bulk path runs only when every contributor and hook is covered.
BULK_SIMULATORS: list[tuple[type, tuple[Callable, ...]]] = []
# The tiers a quote may be asked for without a member, as (code, label) pairs: the app that owns
# tiers registers a provider (the ledger does not know its models); the rule simulator offers them.
TIER_CHOICE_PROVIDERS: list[Callable[[], list[tuple[str, str]]]] = []


def register_contributor(contributor: Contributor) -> None:
    if contributor not in CONTRIBUTORS:
        CONTRIBUTORS.append(contributor)


_LAST_HOOKS: list[AfterPostingHook] = []


def register_after_posting_hook(hook: AfterPostingHook, *, last: bool = False) -> None:
    """hook(transaction=..., result=...) runs inside the posting transaction, after the entries.
    `last`: after every other hook, just before the commit: the place for UPDATEs of rows that
    many purchases share (a campaign's points counter), so that their row locks are held for
    the shortest time."""
    if hook in AFTER_POSTING_HOOKS:
        return
    if last:
        _LAST_HOOKS.append(hook)
        AFTER_POSTING_HOOKS.append(hook)
        return
    firsts = [h for h in AFTER_POSTING_HOOKS if h not in _LAST_HOOKS]
    lasts = [h for h in AFTER_POSTING_HOOKS if h in _LAST_HOOKS]
    AFTER_POSTING_HOOKS[:] = [*firsts, hook, *lasts]


def register_tier_choices(provider: Callable[[], list[tuple[str, str]]]) -> None:
    """provider() lists (code, label) of the tiers a quote may be asked for, lowest first; the
    registering app's contributor honours EarningContext.tier_code for them."""
    if provider not in TIER_CHOICE_PROVIDERS:
        TIER_CHOICE_PROVIDERS.append(provider)


def tier_choices() -> list[tuple[str, str]]:
    """Every registered tier a quote may be asked for (empty when no app offers tiers)."""
    return [choice for provider in TIER_CHOICE_PROVIDERS for choice in provider()]


def register_bulk_simulator(simulator: type, *, covers: tuple[Callable, ...]) -> None:
    if all(existing is not simulator for existing, _ in BULK_SIMULATORS):
        BULK_SIMULATORS.append((simulator, covers))


def _matches(rule: EarningRule, ctx: EarningContext) -> bool:
    if rule.starts_at and ctx.occurred_at < rule.starts_at:
        return False
    if rule.ends_at and ctx.occurred_at >= rule.ends_at:
        return False
    if rule.channels and ctx.channel not in rule.channels:
        return False
    if rule.store_codes and (ctx.store_code or "") not in rule.store_codes:
        return False
    return not (rule.weekdays and ctx.local_date.weekday() not in rule.weekdays)


def _filtered(rule: EarningRule) -> bool:
    return bool(rule.skus or rule.categories)


def _line_matches(rule: EarningRule, line: EarningLine) -> bool:
    return bool(
        (rule.skus and line.sku in rule.skus)
        or (rule.categories and line.category in rule.categories)
    )


def _line_share(
    rule: EarningRule, lines: tuple[EarningLine, ...], eligible_lines_total: Decimal
) -> Decimal:
    if not eligible_lines_total:
        return ZERO
    matching = sum((line.amount for line in lines if _line_matches(rule, line)), ZERO)
    return matching / eligible_lines_total


def _describe(line: EarningLine) -> dict[str, str]:
    described = {"sku": line.sku, "quantity": str(line.quantity), "amount": str(line.amount)}
    if line.category:
        described["category"] = line.category
    return described


def _condition_failure(
    rule: EarningRule, ctx: EarningContext
) -> tuple[str | None, list[EarningLine]]:
    """Why a multiplier or bonus rule does not apply to this basket (None: it does), and the
    lines it matches. Conditions look at the lines as sold (excluded products included)."""
    bought = [line for line in ctx.lines if line.amount > 0]
    matching = [line for line in bought if _line_matches(rule, line)] if _filtered(rule) else bought
    if rule.requires_promo_code and ctx.promo_rule_id != rule.pk:
        return "promo_code", matching
    if rule.kind == EarningRule.Kind.FIXED_BONUS and _filtered(rule) and not matching:
        return "no_matching_line", matching
    if rule.required_skus and not any(line.sku in rule.required_skus for line in bought):
        return "required_product", matching
    if rule.min_quantity is not None and (
        sum((line.quantity for line in matching), ZERO) < rule.min_quantity
    ):
        return "min_quantity", matching
    if rule.min_matching_amount is not None:
        matched = (
            sum((line.amount for line in matching), ZERO)
            if ctx.lines
            else (ctx.amount - ctx.amount_paid_with_points)
        )
        if matched < rule.min_matching_amount:
            return "min_matching_amount", matching
    return None, matching


def uses_left(
    rule: EarningRule, *, total: int, by_member: int, by_member_in_period: int
) -> int | None:
    """How many more purchases a rule may apply to (None: no cap), from its use counts."""
    left = [
        cap - used
        for cap, used in (
            (rule.max_uses_total, total),
            (rule.max_uses_per_member, by_member),
            (rule.max_uses_per_period, by_member_in_period),
        )
        if cap
    ]
    return max(min(left), 0) if left else None


def eligible_amount(
    programme: ProgrammeSettings, ctx: EarningContext
) -> tuple[Decimal, list[EarningLine]]:
    """Money-paid amount that can earn, and the lines that count."""
    paid_with_money = max(ctx.amount - ctx.amount_paid_with_points, ZERO)
    if not ctx.lines:
        return paid_with_money, []
    excluded_skus, excluded_categories = (
        set(programme.excluded_skus),
        set(programme.excluded_categories),
    )
    counted = [
        line
        for line in ctx.lines
        if line.sku not in excluded_skus
        and line.category not in excluded_categories
        and line.amount > 0
    ]
    lines_total = sum((line.amount for line in ctx.lines if line.amount > 0), ZERO)
    if not lines_total:
        return ZERO, []
    counted_total = sum((line.amount for line in counted), ZERO)
    return (paid_with_money * counted_total / lines_total).quantize(Decimal("0.01")), counted


def active_rules_fresh() -> list[EarningRule]:
    """The active rules in the order the engine applies them (one query)."""
    return list(EarningRule.objects.filter(active=True).order_by("priority", "id"))


config_cache.register("ledger.active_rules", active_rules_fresh, models=[EarningRule])


def active_rules() -> list[EarningRule]:
    """The active rules from this process's cache (loyalty/core/config_cache.py); the rules are
    shared by the thread's requests: read them, never change them."""
    return list(config_cache.cached("ledger.active_rules"))


def evaluate(
    *,
    programme: ProgrammeSettings,
    ctx: EarningContext,
    rules: list[EarningRule] | None = None,
    earned_today: int = 0,
    earned_this_month: int = 0,
    contributions: list[Contribution] | None = None,
    uses: dict[int, int | None] | None = None,
) -> EarnResult:
    """Run the engine; pure apart from reading the active rules when `rules` is not given and
    calling the registered contributors when `contributions` is not given (bulk paths pass
    what their simulators computed). `uses` maps a capped rule's id to the purchases it may
    still apply to (see `uses_left`); a rule missing from it is not capped."""
    if rules is None:
        rules = active_rules()
    rules = [rule for rule in rules if rule.active and _matches(rule, ctx)]
    result = EarnResult()
    rules = _select_reward_rules(rules, ctx, uses or {}, result)
    eligible, counted_lines = eligible_amount(programme, ctx)
    result.eligible_amount = eligible
    result.applied.append({"step": "base_rate", "points_per_unit": str(programme.points_per_unit)})
    if ctx.amount_paid_with_points:
        result.applied.append(
            {"step": "paid_with_points", "amount": str(ctx.amount_paid_with_points)}
        )
    if len(counted_lines) != len(ctx.lines):
        result.applied.append(
            {"step": "exclusions", "lines_excluded": len(ctx.lines) - len(counted_lines)}
        )

    minimums = [(None, programme.minimum_spend)] + [
        (rule, rule.amount or ZERO) for rule in rules if rule.kind == EarningRule.Kind.MINIMUM_SPEND
    ]
    for rule, minimum in minimums:
        if minimum and eligible < minimum:
            result.applied.append(
                {
                    "step": "minimum_spend",
                    "rule": rule.pk if rule else None,
                    "minimum": str(minimum),
                }
            )
            return result

    base = eligible * programme.points_per_unit
    counted_total = sum((line.amount for line in counted_lines), ZERO)
    factor = Decimal("1")
    extra = ZERO
    for rule in rules:
        if rule.kind != EarningRule.Kind.MULTIPLIER:
            continue
        # 0 is a multiplier ("earns nothing"); only a missing value means x1
        multiplier = rule.multiplier if rule.multiplier is not None else Decimal("1")
        if _filtered(rule):
            share = _line_share(rule, tuple(counted_lines), counted_total)
            if share:
                extra += base * share * (multiplier - 1)
                result.applied.append(
                    {
                        "rule": rule.pk,
                        "name": rule.name,
                        "multiplier": str(multiplier),
                        "share": str(round(share, 4)),
                    }
                )
        else:
            factor *= multiplier
            result.applied.append(
                {"rule": rule.pk, "name": rule.name, "multiplier": str(multiplier)}
            )
    raw = base * factor + extra * factor

    if contributions is None:
        contributions = [c for contributor in CONTRIBUTORS for c in contributor(ctx)]
    for contribution in contributions:
        # recorded even at x1: a statement says which tier a member earned in
        if contribution.multiplier is not None:
            raw *= contribution.multiplier
            result.applied.append(
                {
                    "source": contribution.source,
                    "name": contribution.label,
                    "multiplier": str(contribution.multiplier),
                }
            )

    rounding = (
        ROUND_FLOOR if programme.rounding == ProgrammeSettings.Rounding.FLOOR else ROUND_HALF_UP
    )
    points = int(max(raw, ZERO).quantize(Decimal("1"), rounding=rounding))
    uncapped = points

    for rule in rules:
        if rule.kind == EarningRule.Kind.CAP_TRANSACTION:
            limit = rule.points or 0
        elif rule.kind == EarningRule.Kind.CAP_DAY:
            limit = max((rule.points or 0) - earned_today, 0)
        elif rule.kind == EarningRule.Kind.CAP_MONTH:
            limit = max((rule.points or 0) - earned_this_month, 0)
        else:
            continue
        if points > limit:
            result.applied.append(
                {"rule": rule.pk, "name": rule.name, "cap": rule.kind, "capped_from": points}
            )
            points = limit
    result.points = points
    result.points_uncollected = uncapped - points

    for rule in rules:
        if rule.kind == EarningRule.Kind.FIXED_BONUS and rule.points:
            trigger = (
                [
                    _describe(line)
                    for line in ctx.lines
                    if line.amount > 0 and _line_matches(rule, line)
                ]
                if _filtered(rule)
                else []
            )
            result.bonuses.append(
                BonusLine(
                    source=f"rule:{rule.pk}", label=rule.name, points=rule.points, lines=trigger
                )
            )
    for contribution in contributions:
        if contribution.bonus_points > 0:
            result.bonuses.append(
                BonusLine(
                    source=contribution.source,
                    label=contribution.label,
                    points=contribution.bonus_points,
                )
            )
    return result


REWARD_KINDS = (EarningRule.Kind.MULTIPLIER, EarningRule.Kind.FIXED_BONUS)


def candidate_rules(rules: list[EarningRule], ctx: EarningContext) -> list[EarningRule]:
    """The multiplier and bonus rules whose filters and conditions hold for this purchase,
    before priority, stop and usage caps: the rules whose usage the caller must count (and
    lock) before `evaluate`."""
    return [
        rule
        for rule in rules
        if rule.active
        and rule.kind in REWARD_KINDS
        and _matches(rule, ctx)
        and _condition_failure(rule, ctx)[0] is None
    ]


def _select_reward_rules(
    rules: list[EarningRule],
    ctx: EarningContext,
    uses: dict[int, int | None],
    result: EarnResult,
) -> list[EarningRule]:
    """The rules that take part: limits (minimum spend, caps) always; multiplier and bonus rules
    in priority order when their conditions hold and their usage caps leave a use, until one
    that applies says stop."""
    kept: list[EarningRule] = []
    stopped_by: EarningRule | None = None
    for rule in sorted(rules, key=lambda r: (r.priority, r.pk or 0)):
        if rule.kind not in REWARD_KINDS:
            kept.append(rule)
            continue
        if stopped_by is not None:
            result.applied.append(
                {"rule": rule.pk, "name": rule.name, "skipped": "stopped", "by": stopped_by.pk}
            )
            continue
        failure, matching = _condition_failure(rule, ctx)
        if failure is None and _filtered(rule) and not matching:
            continue  # a sku/category rule with nothing in the basket: not a use, not a stop
        if failure is not None:
            # said only when the basket came close (matching lines, too few): a rule that never
            # concerned the purchase is not written on every entry
            if failure in ("min_quantity", "min_matching_amount") and matching:
                result.applied.append({"rule": rule.pk, "name": rule.name, "skipped": failure})
            continue
        if uses.get(rule.pk, 1) == 0:
            result.applied.append({"rule": rule.pk, "name": rule.name, "skipped": "usage_cap"})
            continue
        kept.append(rule)
        result.used_rules.append(rule.pk)
        if rule.stop_further:
            stopped_by = rule
    return kept
