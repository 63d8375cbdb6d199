"""The lean purchase path (issue #22) changes nothing a till or the ledger can see: a few thousand
generated purchases and returns go through the API twice from the same start, once with every
configuration cache off (each read fresh from the database, the behaviour before the caches:
loyalty/core/config_cache.py) and once with the caches on, and every answer, ledger entry, lot,
transaction and campaign award is compared by external ids (database ids differ between the two
runs on PostgreSQL: sequences do not roll back).

Between the purchases staff change the configuration the caches hold (an earning rule, the
programme settings, a tier threshold, a campaign ended, a club plan): the cached run must see each
change from the next purchase on, as the fresh run does."""

import os
import random
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import override_settings
from django.urls import reverse

from campaigns.models import Campaign
from loyalty.core import config_cache
from loyalty.ledger.models import EarningRule, LedgerEntry, ProgrammeSettings, Transaction
from loyalty.ledger.services import ledger_reconcile
from loyalty.tiers.models import Tier
from tests.factories.campaigns import CampaignFactory, launch
from tests.factories.integrations import ApiClientFactory
from tests.factories.ledger import EarningRuleFactory, ProgrammeSettingsFactory
from tests.factories.members import MemberFactory, StoreFactory
from tests.factories.tiers import TierPolicyFactory, standard_ladder
from tests.integrations.conftest import key_client
from tests.ledger.api.test_purchase_batch import outcome, state

pytestmark = pytest.mark.django_db
PURCHASE = reverse("ledger:purchase-create")
RETURN = reverse("ledger:return-create")
# purchases per run (and about one return for every ten); LEAN_REPLAY_PURCHASES to try more
CAMPAIGN_RETURN = re.compile(r"campaign_return:(\d+):\d+")
PURCHASES = int(os.environ.get("LEAN_REPLAY_PURCHASES", "1500"))


class _Rollback(Exception):
    pass


def generated(members, stores, count, seed):
    """(kind, body) in time order: purchases of a growing set of members over a year, with SKU
    lines, stores, points paid, replays, a conflict, and returns of
    earlier purchases (some larger than what is left: refused)."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    ops: list[tuple[str, dict]] = []
    purchases: list[dict] = []
    for n in range(count):
        member = rng.choice(members[: 4 + n * len(members) // count])
        when = start + timedelta(hours=n * 5 + rng.randint(0, 4))
        lines = [
            {
                "sku": rng.choice(["85123A", "22423", "47566"]),
                "quantity": str(rng.randint(1, 4)),
                "unit_price": rng.choice(["2.55", "4.95", "12.75"]),
            }
            for _ in range(rng.randint(0, 2))
        ]
        amount = (
            sum(Decimal(x["quantity"]) * Decimal(x["unit_price"]) for x in lines)
            if lines
            else Decimal(rng.randint(1, 250)) + Decimal(rng.randint(0, 99)) / 100
        )
        body = {
            "member_id": member.pk,
            "channel": rng.choice(["store", "web", "app"]),
            "external_id": f"P-{n}",
            "occurred_at": when.isoformat(),
            "amount": str(amount.quantize(Decimal("0.01"))),
        }
        if lines:
            body["lines"] = lines
        if rng.random() < 0.4:
            body["store"] = rng.choice(stores).code
        if n % 41 == 40:
            body["points_spent"] = rng.choice([5, 20, 10**6])  # some too many: refused
        ops.append(("purchase", body))
        purchases.append(body)
        if n % 10 == 9:
            original = rng.choice(purchases[-30:])
            share = Decimal(rng.choice([25, 50, 100, 150])) / 100  # 150 %: refused
            ops.append(
                (
                    "return",
                    {
                        "channel": original["channel"],
                        "external_id": f"R-{n}",
                        "original_external_id": original["external_id"],
                        "occurred_at": (when + timedelta(hours=1)).isoformat(),
                        "amount": str(
                            (Decimal(original["amount"]) * share).quantize(Decimal("0.01"))
                        ),
                    },
                )
            )
        if n % 97 == 96:
            ops.append(("purchase", dict(purchases[-5])))  # a replay
    ops.insert(300, ("purchase", {**purchases[20], "amount": "1.00"}))  # a conflict
    return ops


def change(step: int) -> None:
    """What staff change at fixed points of the run, as the admin saves it (a save: the
    stamp moves) or through a service; read afresh each time (the other run rolled back)."""
    if step == 1:
        rule = EarningRule.objects.get(name="Welcome 5")
        rule.points = 7
        rule.save()
    elif step == 2:
        programme = ProgrammeSettings.objects.get(pk=1)
        programme.points_per_unit = Decimal("2")
        programme.save()
    elif step == 3:
        gold = Tier.objects.get(code="gold")
        gold.earn_multiplier = Decimal("1.75")
        gold.save()
        platinum = Tier.objects.get(code="platinum")
        platinum.threshold = Decimal("3000")
        platinum.save()
    elif step == 4:
        from campaigns.services import campaign_status_change

        campaign = Campaign.objects.get(mechanic=Campaign.Mechanic.MULTIPLIER)
        campaign_status_change(campaign=campaign, to_status=Campaign.Status.ENDED)
    elif step == 5:
        rule = EarningRule.objects.get(name="Lanterns x3")
        rule.active = False
        rule.save()


def snapshot() -> dict:
    """The batch test's snapshot by external ids, plus: a campaign's return reversal names the
    return and the award by database id and is dated when it is posted (now, like a tier's
    gift): the return's external id and the campaign stand for the ids, its time is left out;
    so are the posting times of refund lots."""
    snap = state()
    refs = dict(Transaction.objects.values_list("pk", "external_id"))

    def key(text: str) -> str:
        return CAMPAIGN_RETURN.sub(lambda m: f"campaign_return:{refs[int(m[1])]}", text)

    def entry(e: tuple) -> tuple:
        meta = e[8]
        if isinstance(meta, dict) and meta.get("original"):  # a return names its purchase by id
            e = (*e[:8], {**meta, "original": refs[meta["original"]]}, *e[9:])
        if e[4] != "campaign_return":
            return e
        return (*e[:5], key(e[5]), e[6], e[7], {"campaign": e[8]["campaign"]}, None)

    snap["entries"] = [entry(e) for e in snap["entries"]]
    # a return's refund lot (points paid back) is dated when it is posted (now), as is its
    # expiry: both differ between the runs by the seconds between them
    snap["lots"] = [
        (*lot[:3], None, None) if str(lot[0]).endswith(":refund") else lot for lot in snap["lots"]
    ]
    snap["allocations"] = sorted((key(a), key(b), n) for a, b, n in snap["allocations"])
    return snap


def run(client, ops) -> list:
    answers = []
    every = len(ops) // 6
    for i, (kind, body) in enumerate(ops):
        if i and i % every == 0:
            change(i // every)
        response = client.post(PURCHASE if kind == "purchase" else RETURN, body, format="json")
        answers.append(outcome(response.status_code, response.json()))
    return answers


def test_the_cached_path_gives_the_same_entries_as_fresh_reads():
    ProgrammeSettingsFactory(pending_days=14, expiry_months=24)
    EarningRuleFactory(
        name="Mondays x2", kind=EarningRule.Kind.MULTIPLIER, multiplier=Decimal("2"), weekdays=[0]
    )
    EarningRuleFactory(
        name="Lanterns x3",
        kind=EarningRule.Kind.MULTIPLIER,
        multiplier=Decimal("3"),
        skus=["85123A"],
    )
    EarningRuleFactory(name="Welcome 5", kind=EarningRule.Kind.FIXED_BONUS, points=5)
    EarningRuleFactory(name="Cap 600", kind=EarningRule.Kind.CAP_TRANSACTION, points=600)
    TierPolicyFactory()
    standard_ladder()
    start, end = datetime(2010, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
    launch(CampaignFactory(multiplier=Decimal("2"), starts_at=start, ends_at=end))
    launch(
        CampaignFactory(
            mechanic=Campaign.Mechanic.FIXED_BONUS,
            multiplier=None,
            bonus_points=25,
            min_spend=Decimal("120"),
            starts_at=start,
            ends_at=end,
            points_budget=2000,
        )
    )
    members = [
        MemberFactory(external_ref=f"M{n}", enrolled_at=datetime(2024, 1, 1, tzinfo=UTC))
        for n in range(40)
    ]
    stores = [StoreFactory(code=f"S{n:02d}") for n in range(3)]
    # a high limit: the two runs send ~3,300 requests within minutes on one key
    till = key_client(
        ApiClientFactory(
            scopes=["transactions:write", "members:read"], rate_limit_per_minute=1_000_000
        )
    )
    ops = generated(members, stores, PURCHASES, seed=22)

    try:
        with transaction.atomic(), override_settings(CONFIG_CACHE_ENABLED=False):
            config_cache.cache_clear()
            fresh = run(till, ops)
            fresh_state = snapshot()
            raise _Rollback
    except _Rollback:
        pass
    assert not Transaction.objects.exists()

    # the cached run as in production: the stamp read at most once a minute here, so only the
    # stamp moves of the staff changes (this thread's own) invalidate the caches
    with override_settings(CONFIG_CACHE_ENABLED=True, CONFIG_CACHE_MAX_AGE=60):
        config_cache.cache_clear()
        cached = run(till, ops)
    cached_state = snapshot()

    assert len(cached) == len(fresh)
    for i, (a, b) in enumerate(zip(fresh, cached, strict=True)):
        assert a == b, (i, ops[i])
    for part in fresh_state:
        assert cached_state[part] == fresh_state[part], part
    # the run covers what it claims to
    statuses = {status for status, _ in fresh}
    assert {201, 200, 409, 422} <= statuses
    kinds = {entry[1] for entry in fresh_state["entries"]}
    assert {"earn", "bonus", "redeem", "reversal"} <= kinds
    assert fresh_state["awards"], "the campaigns gave something"
    # not covered: no member changes tier along this run (the tier-crossing comparison is in
    # tests/ledger/api/test_purchase_batch_set_based.py)
    assert LedgerEntry.objects.count() == len(fresh_state["entries"])
    assert ledger_reconcile() == []
