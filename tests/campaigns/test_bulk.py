"""A bulk transaction import with active campaigns gives the same points as the per-purchase
path for the same purchases (the campaigns' bulk simulator replays each imported purchase
through the per-purchase campaign code)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum

from campaigns.models import Campaign, CampaignAudience, CampaignAward
from loyalty.ledger.bulk import bulk_blockers
from loyalty.ledger.models import PointsAccount, Transaction
from loyalty.ledger.services import ledger_reconcile
from members.models import Member
from tests.factories.campaigns import CampaignFactory, launch
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.ledger.imports.test_bulk_equivalence import run_import, synthetic_file

pytestmark = pytest.mark.django_db
M = Campaign.Mechanic


class _Rollback(Exception):
    pass


def snapshot() -> dict:
    refs = dict(Member.objects.values_list("pk", "external_ref"))
    return {
        "accounts": sorted(
            (refs[a.member_id], a.balance, a.debt, a.lifetime_earned)
            for a in PointsAccount.objects.all()
        ),
        "awards": sorted(
            (refs[row["member_id"]], row["campaign_id"], row["points"])
            for row in CampaignAward.objects.values("member_id", "campaign_id").annotate(
                points=Sum("points")
            )
        ),
        "audience": sorted(
            (refs[m], c, h)
            for m, c, h in CampaignAudience.objects.values_list(
                "member_id", "campaign_id", "holdout"
            )
        ),
        "budget": sorted(Campaign.objects.values_list("pk", "points_awarded")),
    }


def test_bulk_import_with_campaigns_equals_the_per_purchase_path(tmp_path):
    ProgrammeSettingsFactory(pending_days=14, expiry_months=24)
    start = datetime(2010, 1, 1, tzinfo=UTC)
    end = datetime(2030, 1, 1, tzinfo=UTC)
    # no holdout here: it hashes (campaign id, member id), and on PostgreSQL the second import
    # gives the members other ids (sequences do not roll back), so other members would be held
    # out (tests/campaigns/test_mechanics.py covers the holdout on the purchase path)
    launch(
        CampaignFactory(multiplier=Decimal("2"), starts_at=start, ends_at=end, holdout_percent=0)
    )
    launch(
        CampaignFactory(
            mechanic=M.FIXED_BONUS,
            multiplier=None,
            bonus_points=25,
            min_spend=Decimal("30"),
            starts_at=start,
            ends_at=end,
            points_budget=120,
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
    assert bulk_blockers() == []
    path = synthetic_file(tmp_path / "file.csv", seed=7)
    try:
        with transaction.atomic():
            run_import(path, tmp_path, "--per-invoice")
            slow = snapshot()
            raise _Rollback
    except _Rollback:
        pass
    assert not Transaction.objects.exists()
    out = run_import(path, tmp_path)
    assert "bulk path" in out
    fast = snapshot()
    assert slow["awards"], "the campaigns gave something"
    for part in slow:
        assert fast[part] == slow[part], part
    assert dict(fast["budget"])[Campaign.objects.get(mechanic=M.FIXED_BONUS).pk] == 120
    assert ledger_reconcile() == []
