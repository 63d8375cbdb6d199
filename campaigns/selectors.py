"""Campaign reads for the API and the admin."""

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, CampaignAudience, Segment
from campaigns.services import is_holdout
from loyalty.core.exceptions import NotFound
from members.models import Member


def campaign_list(*, status: str | None = None) -> QuerySet[Campaign]:
    qs = Campaign.objects.select_related("segment").order_by("-starts_at", "pk")
    return qs.filter(status=status) if status else qs


MAX_ID = 2**63 - 1  # larger ids cannot exist and would overflow the database driver


def campaign_get(*, campaign_id: int) -> Campaign:
    if not 0 < campaign_id <= MAX_ID:
        raise NotFound(_("No campaign with that id."), extra={"campaign_id": campaign_id})
    campaign = Campaign.objects.select_related("segment").filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound(_("No campaign with that id."), extra={"campaign_id": campaign_id})
    return campaign


def segment_get(*, segment_id: int) -> Segment:
    if not 0 < segment_id <= MAX_ID:
        raise NotFound(_("No segment with that id."), extra={"segment_id": segment_id})
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        raise NotFound(_("No segment with that id."), extra={"segment_id": segment_id})
    return segment


def member_offers(*, member: Member) -> list[Campaign]:
    """Active campaigns in their window that target the member now (not held out): those in
    the audience fixed at launch, and segment-less ones by the same stable holdout hash."""
    now = timezone.now()
    active = list(
        Campaign.objects.filter(status=Campaign.Status.ACTIVE, starts_at__lte=now, ends_at__gt=now)
        .select_related("reward")
        .order_by("priority", "pk")
    )
    rows = dict(
        CampaignAudience.objects.filter(
            member_id=member.pk, campaign_id__in=[c.pk for c in active]
        ).values_list("campaign_id", "holdout")
    )
    offers = []
    for campaign in active:
        holdout = rows.get(campaign.pk)
        if holdout is None and campaign.segment_id is None and member.is_active:
            holdout = is_holdout(
                campaign_id=campaign.pk, member_id=member.pk, percent=campaign.holdout_percent
            )
        if holdout is False:
            offers.append(campaign)
    return offers
