from django.urls import path

from loyalty.tiers.api.views import (
    TierAssignApi,
    TierHistoryApi,
    TierListApi,
    TierMemberProgressApi,
)

app_name = "tiers"

urlpatterns = [
    path("", TierListApi.as_view(), name="tier-list"),
    path("members/<int:member_id>/progress/", TierMemberProgressApi.as_view(), name="progress"),
    path("members/<int:member_id>/history/", TierHistoryApi.as_view(), name="history"),
    path("members/<int:member_id>/tier/", TierAssignApi.as_view(), name="assign"),
]
