from django.urls import path

from campaigns.engagement.api.views import MemberProgressApi

app_name = "engagement"

urlpatterns = [
    path("members/<int:member_id>/progress/", MemberProgressApi.as_view(), name="progress"),
]
