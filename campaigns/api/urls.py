from django.urls import path

from campaigns.api.views import (
    ActionEventCreateApi,
    CampaignListApi,
    CampaignResultsApi,
    MemberOfferListApi,
    ReferralCodeValidateApi,
    SegmentCountApi,
    unsubscribe_view,
)

app_name = "campaigns"

urlpatterns = [
    path("", CampaignListApi.as_view(), name="campaign-list"),
    path("<int:campaign_id>/results/", CampaignResultsApi.as_view(), name="campaign-results"),
    path("actions/", ActionEventCreateApi.as_view(), name="action-create"),
    path("referrals/validate/", ReferralCodeValidateApi.as_view(), name="referral-validate"),
    path("members/<int:member_id>/offers/", MemberOfferListApi.as_view(), name="member-offers"),
    path("segments/<int:segment_id>/count/", SegmentCountApi.as_view(), name="segment-count"),
    path("unsubscribe/<str:token>/", unsubscribe_view, name="unsubscribe"),
]
