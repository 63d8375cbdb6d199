from django.urls import path

from campaigns.membership.api.views import (
    ClubCancelApi,
    ClubJoinApi,
    ClubPlanListApi,
    ClubRenewApi,
    ClubStatusApi,
)

app_name = "membership"

urlpatterns = [
    path("plans/", ClubPlanListApi.as_view(), name="plan-list"),
    path("members/<int:member_id>/", ClubStatusApi.as_view(), name="status"),
    path("members/<int:member_id>/join/", ClubJoinApi.as_view(), name="join"),
    path("members/<int:member_id>/renew/", ClubRenewApi.as_view(), name="renew"),
    path("members/<int:member_id>/cancel/", ClubCancelApi.as_view(), name="cancel"),
]
