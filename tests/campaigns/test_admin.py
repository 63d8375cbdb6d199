"""The campaigns admin as marketing staff use it: forms posted like a browser, every page
rendered, live segment count, CSV in and out, launch actions, timeline, results, preview."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.models import Campaign, CampaignStatusChange, Segment
from members.services import consent_set
from tests.factories.campaigns import (
    CampaignFactory,
    MessageTemplateFactory,
    SegmentConditionFactory,
    SegmentFactory,
    launch,
)
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(django_user_model, client, programme):
    user = django_user_model.objects.create_user(
        username="mk", password="x-long-pass-123", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Marketing"))
    client.force_login(user)
    return user


def _inline(prefix, rows):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{i}-{key}"] = value
    return data


def test_segment_built_in_the_form_with_live_count(client, marketer):
    store = StoreFactory(code="LON")
    MemberFactory(home_store=store)
    MemberFactory(home_store=store)
    MemberFactory()
    rows = [
        {"group": "1", "field": "home_store", "operator": "is", "value": "LON", "window_days": ""}
    ]
    preview = client.post(
        reverse("admin:campaigns_segment_preview"), {"kind": "rules", **_inline("conditions", rows)}
    )
    assert preview.json()["count"] == 2 and len(preview.json()["sample"]) == 2
    bad = [{"group": "1", "field": "birthday_month", "operator": "is", "value": "13"}]
    answer = client.post(
        reverse("admin:campaigns_segment_preview"), _inline("conditions", bad)
    ).json()
    assert answer["count"] is None and "1 to 12" in answer["errors"][0]
    response = client.post(
        reverse("admin:campaigns_segment_add"),
        {"name": "London", "kind": "rules", "description": "", **_inline("conditions", rows)},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    segment = Segment.objects.get(name="London")
    page = client.get(reverse("admin:campaigns_segment_change", args=[segment.pk]))
    assert 'data-segment-count="2"' in page.content.decode()
    refused = client.post(
        reverse("admin:campaigns_segment_add"),
        {"name": "Bad", "kind": "rules", **_inline("conditions", bad)},
    )
    assert refused.status_code == 200 and not Segment.objects.filter(name="Bad").exists()


def test_segment_csv_export_and_static_upload(client, marketer):
    a = MemberFactory(first_name="=cmd")
    static = SegmentFactory(kind="static")
    upload = reverse("admin:campaigns_segment_upload", args=[static.pk])
    refused = client.post(upload, {"file": SimpleUploadedFile("l.csv", b"member_number\n123\n")})
    assert refused.status_code == 200 and b"No member 123" in refused.content
    done = client.post(
        upload, {"file": SimpleUploadedFile("l.csv", f"card\n{a.member_number}\n".encode())}
    )
    assert done.status_code == 302
    export = client.post(
        reverse("admin:campaigns_segment_changelist"),
        {"action": "export_members", "_selected_action": [static.pk]},
    )
    body = export.content.decode()
    assert a.member_number in body and "'=cmd" in body


def test_campaign_created_launched_and_audited(client, marketer):
    StoreFactory(code="S1")
    segment = SegmentFactory()
    data = {
        "name": "Double December",
        "goal": "More visits",
        "segment": str(segment.pk),
        "mechanic": "multiplier",
        "starts_at_0": "2026-12-01",
        "starts_at_1": "00:00:00",
        "ends_at_0": "2027-01-01",
        "ends_at_1": "00:00:00",
        "priority": "100",
        "stacking": "combine",
        "points_budget": "",
        "holdout_percent": "10",
        "multiplier": "2",
        "cap_period": "campaign",
        "categories": "shoes, bags",
        "skus": "",
        "store_codes": ["S1"],
        "channels": ["store", "web"],
        **_inline("status_changes", []),
    }
    response = client.post(reverse("admin:campaigns_campaign_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get(name="Double December")
    assert campaign.categories == ["shoes", "bags"] and campaign.channels == ["store", "web"]
    missing = client.post(
        reverse("admin:campaigns_campaign_add"), {**data, "name": "X", "multiplier": ""}
    )
    assert missing.status_code == 200 and b"Required for this mechanic" in missing.content
    client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": "move_to_active", "_selected_action": [campaign.pk]},
    )
    campaign.refresh_from_db()
    assert campaign.status in ("active", "scheduled") and campaign.launched_at
    assert CampaignStatusChange.objects.filter(campaign=campaign, actor=marketer).count() == 2


@pytest.mark.parametrize("field", ["categories", "skus"])
def test_campaign_code_with_a_nul_character_is_a_form_error(client, marketer, field):
    """PostgreSQL's jsonb refuses U+0000: the code list refuses it first, as a form error."""
    segment = SegmentFactory()
    data = {
        "name": "Nul codes",
        "segment": str(segment.pk),
        "mechanic": "multiplier",
        "starts_at_0": "2026-12-01",
        "starts_at_1": "00:00:00",
        "ends_at_0": "2027-01-01",
        "ends_at_1": "00:00:00",
        "priority": "100",
        "stacking": "combine",
        "holdout_percent": "10",
        "multiplier": "2",
        "cap_period": "campaign",
        "categories": "",
        "skus": "",
        **_inline("status_changes", []),
    }
    response = client.post(
        reverse("admin:campaigns_campaign_add"), {**data, field: "shoes, ba\x00gs"}
    )
    assert response.status_code == 200
    assert b"Null characters are not allowed." in response.content
    assert not Campaign.objects.filter(name="Nul codes").exists()
    valid = client.post(reverse("admin:campaigns_campaign_add"), {**data, field: "shoes, bags"})
    assert valid.status_code == 302, valid.content.decode()[:3000]
    assert getattr(Campaign.objects.get(name="Nul codes"), field) == ["shoes", "bags"]


def test_clerk_cannot_launch(client, django_user_model, programme):
    user = django_user_model.objects.create_user(
        username="ck", password="x-long-pass-123", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Store clerk"))
    client.force_login(user)
    campaign = CampaignFactory()
    client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": "move_to_active", "_selected_action": [campaign.pk]},
    )
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_every_page_renders_with_data(client, marketer):
    member = MemberFactory(first_name="Ada")
    consent_set(member=member, channel="email", granted=True, source="t")
    seg = SegmentFactory()
    SegmentConditionFactory(segment=seg)
    template = MessageTemplateFactory()
    campaign = launch(
        CampaignFactory(
            segment=seg, holdout_percent=0, multiplier=Decimal("2"), message_template=template
        )
    )
    earn(member, "30.00")
    from campaigns.messaging import campaign_messages_queue, messages_deliver
    from campaigns.services import action_record

    campaign_messages_queue(campaign_id=campaign.pk)
    messages_deliver()
    action_record(member=member, kind="survey", action_id="s", score=8)
    for model in (
        "segment",
        "campaign",
        "messagetemplate",
        "campaignaward",
        "actionevent",
        "referral",
        "messagedelivery",
    ):
        listing = client.get(reverse(f"admin:campaigns_{model}_changelist"))
        assert listing.status_code == 200, model
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and 'id="campaign-chart"' in html
    assert 'id="results-participants">1<' in html and 'id="results-points">30<' in html
    assert 'id="campaign-burn"' in html and '"points": 30' in html  # burn-down series
    timeline = client.get(reverse("admin:campaigns_campaign_timeline"))
    assert timeline.status_code == 200 and campaign.name in timeline.content.decode()
    preview = client.get(
        reverse("admin:campaigns_messagetemplate_preview", args=[template.pk]),
        {"member_number": member.member_number},
    )
    assert "Hello Ada" in preview.content.decode()
    unknown = client.get(
        reverse("admin:campaigns_messagetemplate_preview", args=[template.pk]),
        {"member_number": "1"},
    )
    assert "No member with this number" in unknown.content.decode()
    for model, obj in (("segment", seg), ("messagetemplate", template)):
        assert (
            client.get(reverse(f"admin:campaigns_{model}_change", args=[obj.pk])).status_code == 200
        )
