"""POST /api/v1/ledger/purchases/batch/: many purchases in one request, each recorded or refused
on its own exactly as the single purchase endpoint would record or refuse it."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns.models import Campaign
from loyalty.ledger.models import EarningRule, LedgerEntry, Transaction
from loyalty.ledger.services import ledger_reconcile
from loyalty.tiers.windows import WindowKind
from members.models import Member
from tests.campaigns.test_bulk import snapshot as campaign_snapshot
from tests.factories.campaigns import CampaignFactory, launch
from tests.factories.integrations import ApiClientFactory
from tests.factories.ledger import EarningRuleFactory, ProgrammeSettingsFactory
from tests.factories.members import MemberFactory, StoreFactory
from tests.factories.tiers import TierPolicyFactory, standard_ladder
from tests.ledger.imports.test_bulk_equivalence import snapshot as ledger_snapshot

pytestmark = pytest.mark.django_db
SINGLE = reverse("ledger:purchase-create")
BATCH = reverse("ledger:purchase-batch-create")


def purchase(member, external_id, amount="25.00", **extra):
    return {
        "member_id": member.pk,
        "channel": "store",
        "external_id": external_id,
        "amount": amount,
        **extra,
    }


def test_each_purchase_gets_its_own_result(staff_client, programme, member):
    StoreFactory(code="LDN01")
    closed = MemberFactory(status=Member.Status.CLOSED)
    staff_client.post(SINGLE, purchase(member, "EARLIER"), format="json")

    response = staff_client.post(
        BATCH,
        {
            "purchases": [
                purchase(member, "T-1", store="ldn01"),
                purchase(member, "EARLIER"),  # sent before: the first result again
                purchase(member, "EARLIER", amount="99.00"),  # same key, other purchase
                purchase(closed, "T-2"),
                purchase(member, "T-3", store="NOWHERE"),
                {**purchase(member, "T-4"), "member_id": 10**9},
                purchase(member, "T-5", amount="10.00"),
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    outcomes = [(r["index"], r["external_id"], r["outcome"], r["status"]) for r in body["results"]]
    assert outcomes == [
        (0, "T-1", "created", 201),
        (1, "EARLIER", "replayed", 200),
        (2, "EARLIER", "refused", 409),
        (3, "T-2", "refused", 409),
        (4, "T-3", "refused", 422),
        (5, "T-4", "refused", 404),
        (6, "T-5", "created", 201),
    ]
    assert (body["created"], body["replayed"], body["refused"]) == (2, 1, 4)
    results = body["results"]
    assert results[0]["purchase"]["points_earned"] == 25 and results[0]["error"] is None
    assert results[6]["purchase"]["balance"]["available"] == 25 + 25 + 10
    assert results[2]["error"]["code"] == "transaction_conflict"
    assert results[3]["error"]["code"] == "member_not_active"
    assert "store" in results[4]["error"]["extra"]["fields"]
    assert results[5]["purchase"] is None
    # the refused purchases left nothing behind; the others are recorded
    assert sorted(Transaction.objects.values_list("external_id", flat=True)) == [
        "EARLIER",
        "T-1",
        "T-5",
    ]
    assert Transaction.objects.get(external_id="T-1").store.code == "LDN01"
    assert ledger_reconcile() == []


def test_a_body_off_the_schema_is_refused_whole(staff_client, programme, member):
    good = purchase(member, "T-1")
    cases = [
        {"purchases": [good, {**purchase(member, "T-2"), "amount": "-1"}]},
        {"purchases": [good, {k: v for k, v in good.items() if k != "external_id"}]},
        {"purchases": [purchase(member, f"T-{n}") for n in range(501)]},
        {"purchases": [good], "surprise": 1},
    ]
    for body in cases:
        response = staff_client.post(BATCH, body, format="json")
        assert response.status_code == 400, body
        assert response.json()["code"] == "validation_error"
    assert not Transaction.objects.exists()
    empty = staff_client.post(BATCH, {"purchases": []}, format="json")
    assert empty.status_code == 200
    assert empty.json() == {"created": 0, "replayed": 0, "refused": 0, "results": []}


def test_a_store_bound_key_is_checked_item_by_item(programme, member):
    own, other = StoreFactory(code="OWN01"), StoreFactory(code="OTH01")
    key = ApiClientFactory(store=own)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}")

    response = client.post(
        BATCH,
        {
            "purchases": [
                purchase(member, "T-1", store="own01"),
                purchase(member, "T-2", store=other.code),
                purchase(member, "T-3"),  # no store: the key's
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 403, 201]
    assert results[1]["error"]["code"] == "store_not_allowed"
    assert set(Transaction.objects.values_list("store__code", flat=True)) == {"OWN01"}


class _Rollback(Exception):
    pass


def generated_purchases(members, stores, count, seed):
    """A few hundred purchases of a few members over a year, in time order, with lines that the
    SKU rules match, stores, points paid, a replay, a conflict and refusals mixed in."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    bodies = []
    for n in range(count):
        member = rng.choice(members)
        when = start + timedelta(hours=n * 20 + rng.randint(0, 10))
        lines = [
            {
                "sku": rng.choice(["85123A", "22423", "47566"]),
                "quantity": str(rng.randint(1, 4)),
                "unit_price": rng.choice(["2.55", "4.95", "12.75"]),
            }
            for _ in range(rng.randint(0, 3))
        ]
        amount = (
            sum(Decimal(x["quantity"]) * Decimal(x["unit_price"]) for x in lines)
            if lines
            else Decimal(rng.randint(1, 400)) + Decimal(rng.randint(0, 99)) / 100
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
        if rng.random() < 0.5:
            body["store"] = rng.choice(stores).code
        if n % 37 == 36:
            body["points_spent"] = rng.choice([5, 20, 10**6])  # some too many: refused
        bodies.append(body)
    bodies.insert(50, dict(bodies[10]))  # a replay
    bodies.insert(80, {**bodies[20], "amount": "1.00"})  # a conflict
    bodies.insert(90, {**bodies[30], "external_id": "P-x", "store": "NOWHERE"})
    return bodies


def outcome(status, body):
    """What an answer says, without the ids that differ between the two runs."""
    if status >= 400:
        extra = {k: v for k, v in (body.get("extra") or {}).items() if k != "transaction_id"}
        return status, {**body, "extra": extra} if "extra" in body else body
    return status, {k: v for k, v in body.items() if k != "transaction_id"}


def state():
    """Everything both runs wrote. A tier's welcome gift is dated when it is given (now), not at
    the purchase: its times differ between the runs by the seconds between them, so they are
    left out (its amount, balance, key and lot amounts are compared)."""
    snap = {**ledger_snapshot(), **campaign_snapshot()}
    snap["entries"] = [(*e[:9], None if e[4] == "tier_gift" else e[9]) for e in snap["entries"]]
    snap["lots"] = [
        (*lot[:3], None, None) if lot[0].startswith("tier-gift:") else lot for lot in snap["lots"]
    ]
    return snap


def test_batch_gives_the_same_results_as_the_single_endpoint(staff_client):
    programme = ProgrammeSettingsFactory(pending_days=14, expiry_months=24)
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
    EarningRuleFactory(name="Cap 400", kind=EarningRule.Kind.CAP_TRANSACTION, points=400)
    EarningRuleFactory(name="Day cap 900", kind=EarningRule.Kind.CAP_DAY, points=900)
    TierPolicyFactory(window=WindowKind.LIFETIME)
    standard_ladder()
    start, end = datetime(2010, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
    M = Campaign.Mechanic
    launch(CampaignFactory(multiplier=Decimal("2"), starts_at=start, ends_at=end))
    launch(
        CampaignFactory(
            mechanic=M.FIXED_BONUS,
            multiplier=None,
            bonus_points=25,
            min_spend=Decimal("30"),
            starts_at=start,
            ends_at=end,
            points_budget=300,
        )
    )
    launch(
        CampaignFactory(
            mechanic=M.NTH_PURCHASE,
            multiplier=None,
            bonus_points=40,
            purchase_number=3,
            starts_at=start,
            ends_at=end,
        )
    )
    members = [
        MemberFactory(external_ref=f"M{n}", enrolled_at=datetime(2024, 1, 1, tzinfo=UTC))
        for n in range(12)
    ]
    stores = [StoreFactory(code=f"S{n:02d}") for n in range(3)]
    bodies = generated_purchases(members, stores, 240, seed=22)
    assert programme.pending_days == 14

    try:
        with transaction.atomic():
            single = []
            for body in bodies:
                response = staff_client.post(SINGLE, body, format="json")
                single.append(outcome(response.status_code, response.json()))
            single_state = state()
            raise _Rollback
    except _Rollback:
        pass
    assert not Transaction.objects.exists()

    batched = []
    for offset in range(0, len(bodies), 120):
        response = staff_client.post(
            BATCH, {"purchases": bodies[offset : offset + 120]}, format="json"
        )
        assert response.status_code == 200, response.json()
        for result in response.json()["results"]:
            body = result["purchase"] if result["error"] is None else result["error"]
            batched.append(outcome(result["status"], body))
    batch_state = state()

    assert batched == single
    for part in single_state:
        assert batch_state[part] == single_state[part], part
    statuses = {status for status, _ in single}
    assert {201, 200, 409, 422} <= statuses, "the run covers created, replayed and refused"
    kinds = {entry[1] for entry in single_state["entries"]}
    assert {"earn", "bonus", "redeem"} <= kinds
    assert single_state["awards"], "the campaigns gave something"
    assert any("tier:" in str(entry[7]) for entry in single_state["entries"]), "an upgrade"
    assert LedgerEntry.objects.count() == len(single_state["entries"])
    assert ledger_reconcile() == []
