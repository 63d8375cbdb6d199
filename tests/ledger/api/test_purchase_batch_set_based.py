"""The batch endpoint's set-based mode (loyalty/ledger/batch.py): the same answers and
rows as the single endpoint, purchase by purchase, when the bulk poster does the work."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign
from loyalty.ledger.batch import batch_blockers
from loyalty.ledger.models import EarningRule, LedgerEntry, PointsAccount, Transaction
from loyalty.ledger.services import ledger_reconcile
from loyalty.tiers.models import TierAssignment
from loyalty.tiers.windows import WindowKind
from members.models import Member
from tests.concurrency import run_threads
from tests.factories.campaigns import CampaignFactory, launch
from tests.factories.ledger import EarningRuleFactory, ProgrammeSettingsFactory
from tests.factories.members import MemberFactory, StoreFactory
from tests.factories.tiers import TierPolicyFactory, standard_ladder
from tests.ledger.api.test_purchase_batch import (
    BATCH,
    SINGLE,
    _Rollback,
    generated_purchases,
    outcome,
    purchase,
    state,
)

pytestmark = pytest.mark.django_db


def _set_based_programme():
    """Rules, usage caps and a tier ladder, no campaign and no per-day cap: set-based."""
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
    EarningRuleFactory(
        name="First 3 bonus",
        kind=EarningRule.Kind.FIXED_BONUS,
        multiplier=None,
        points=7,
        max_uses_per_member=3,
    )
    EarningRuleFactory(name="Cap 400", kind=EarningRule.Kind.CAP_TRANSACTION, points=400)
    TierPolicyFactory(window=WindowKind.LIFETIME)
    standard_ladder()


def _run_both(client, bodies, size):
    """The bodies through the single endpoint (rolled back), then in batches of `size`."""
    try:
        with transaction.atomic():
            single = []
            for body in bodies:
                response = client.post(SINGLE, body, format="json")
                single.append(outcome(response.status_code, response.json()))
            single_state = state()
            raise _Rollback
    except _Rollback:
        pass
    assert not Transaction.objects.exists()
    batched = []
    for offset in range(0, len(bodies), size):
        response = client.post(BATCH, {"purchases": bodies[offset : offset + size]}, format="json")
        assert response.status_code == 200, response.json()
        for result in response.json()["results"]:
            body = result["purchase"] if result["error"] is None else result["error"]
            batched.append(outcome(result["status"], body))
    return single, single_state, batched, state()


def test_set_based_batch_gives_the_same_results_as_the_single_endpoint(staff_client):
    _set_based_programme()
    assert batch_blockers() == []  # the set-based mode runs
    members = [
        MemberFactory(external_ref=f"M{n}", enrolled_at=datetime(2024, 1, 1, tzinfo=UTC))
        for n in range(6)
    ]
    stores = [StoreFactory(code=f"S{n:02d}") for n in range(3)]
    # 6 members, 150 purchases: each member many times per batch (caps, usage caps, tiers
    # crossed mid-batch); a key sent twice in one batch (replay), a conflict, refusals
    bodies = generated_purchases(members, stores, 150, seed=7)
    bodies.insert(20, {**bodies[5], "external_id": "P-5"})  # in the same batch: a replay
    bodies.insert(30, purchase(MemberFactory(status=Member.Status.CLOSED), "CLOSED-1"))

    single, single_state, batched, batch_state = _run_both(staff_client, bodies, 100)

    for index, (got, want) in enumerate(zip(batched, single, strict=True)):
        assert got == want, f"{index}: {bodies[index]}\nbatch  {got}\nsingle {want}"
    for part in single_state:
        assert batch_state[part] == single_state[part], part
    statuses = [status for status, _ in single]
    assert statuses.count(201) > 100 and {200, 409, 422} <= set(statuses)
    assert any("tier:" in str(entry[7]) for entry in single_state["entries"]), "an upgrade"
    assert LedgerEntry.objects.count() == len(single_state["entries"])
    assert ledger_reconcile() == []


def test_a_replayed_batch_answers_the_first_results_and_records_nothing(staff_client):
    _set_based_programme()
    member, other = MemberFactory(), MemberFactory()
    when = (timezone.now() - timedelta(hours=1)).isoformat()
    body = {
        "purchases": [
            purchase(member, "R-1", occurred_at=when),
            purchase(other, "R-2", amount="40.00", occurred_at=when),
            purchase(member, "R-3", amount="15.00", occurred_at=when),
        ]
    }
    first = staff_client.post(BATCH, body, format="json").json()
    entries = LedgerEntry.objects.count()

    again = staff_client.post(BATCH, body, format="json").json()

    assert (first["created"], again["created"], again["replayed"]) == (3, 0, 3)
    for a, b in zip(first["results"], again["results"], strict=True):
        assert b["status"] == 200 and b["purchase"]["created"] is False
        keep = ("transaction_id", "points_earned", "rules")  # a replay has nothing pending
        assert {k: b["purchase"][k] for k in keep} == {k: a["purchase"][k] for k in keep}
    assert LedgerEntry.objects.count() == entries
    balances = [r["purchase"]["balance"]["pending"] for r in first["results"]]
    assert balances[0] < balances[2], "each answer shows the balance after its own purchase"
    assert ledger_reconcile() == []


def test_a_refused_item_among_good_ones_leaves_only_itself_out(staff_client):
    _set_based_programme()
    member = MemberFactory()
    response = staff_client.post(
        BATCH,
        {
            "purchases": [
                purchase(member, "G-1"),
                purchase(member, "G-2", points_spent=20),  # none available yet: refused
                purchase(member, "G-3", occurred_at="2999-01-01T00:00:00+00:00"),  # future
                purchase(member, "G-1", amount="99.00"),  # same key, other purchase
                purchase(member, "G-4"),
            ]
        },
        format="json",
    )
    body = response.json()
    assert [r["status"] for r in body["results"]] == [201, 409, 422, 409, 201]
    assert body["results"][1]["error"]["code"] == "insufficient_points"
    assert body["results"][3]["error"]["code"] == "transaction_conflict"
    assert sorted(Transaction.objects.values_list("external_id", flat=True)) == ["G-1", "G-4"]
    account = PointsAccount.objects.get(member=member)
    assert account.balance == 50 + 7 * 2
    assert body["results"][4]["purchase"]["balance"]["balance"] == account.balance
    assert ledger_reconcile() == []


def test_a_campaign_budget_runs_out_mid_batch(staff_client):
    ProgrammeSettingsFactory()
    start, end = datetime(2010, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
    campaign = launch(
        CampaignFactory(
            mechanic=Campaign.Mechanic.FIXED_BONUS,
            multiplier=None,
            bonus_points=25,
            min_spend=Decimal("1"),
            starts_at=start,
            ends_at=end,
            points_budget=60,
        )
    )
    assert batch_blockers() == ["campaigns are active"]  # purchase by purchase
    members = [MemberFactory(external_ref=f"M{n}") for n in range(2)]
    when = (timezone.now() - timedelta(hours=1)).isoformat()  # the same in both runs
    bodies = [purchase(members[n % 2], f"C-{n}", occurred_at=when) for n in range(5)]

    single, single_state, batched, batch_state = _run_both(staff_client, bodies, 5)

    assert batched == single
    assert batch_state == single_state
    given = sum(points for *_, points in batch_state["awards"])
    assert given == Campaign.objects.get(pk=campaign.pk).points_awarded <= 60
    assert given > 25 * 2, "the budget ran out in the batch, not before it"
    assert ledger_reconcile() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_batches_and_single_purchases_reconcile(staff_client):
    from rest_framework.test import APIClient

    ProgrammeSettingsFactory()
    TierPolicyFactory(window=WindowKind.LIFETIME)
    standard_ladder()
    members = [MemberFactory() for _ in range(6)]
    when = (timezone.now() - timedelta(minutes=5)).isoformat()

    def work(n):
        client = APIClient()
        client.credentials(**staff_client._credentials)
        if n < 2:  # two batches over the same members, in opposite orders
            order = members if n == 0 else members[::-1]
            items = [
                purchase(m, f"B{n}-{k}-{i}", amount="30.00", occurred_at=when)
                for k in range(5)
                for i, m in enumerate(order)
            ]
            response = client.post(BATCH, {"purchases": items}, format="json")
            return response.status_code, response.json()["created"]
        response = client.post(
            SINGLE, purchase(members[n % 6], f"S-{n}", occurred_at=when), format="json"
        )
        return response.status_code, 1

    outcomes = run_threads(8, work)

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert [value for _, value in outcomes] == [(200, 30), (200, 30)] + [(201, 1)] * 6
    assert Transaction.objects.count() == 66
    assert ledger_reconcile() == []
    total = sum(PointsAccount.objects.values_list("balance", flat=True))
    assert total == sum(LedgerEntry.objects.values_list("amount", flat=True))
    # one open tier row per member, whatever the interleaving
    assert TierAssignment.objects.filter(valid_to__isnull=True).count() == len(members)
