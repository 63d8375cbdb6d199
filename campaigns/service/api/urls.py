from django.urls import path

from campaigns.service.api.views import (
    BoughtTogetherApi,
    FeedbackDetailApi,
    FeedbackGoodwillApi,
    FeedbackListCreateApi,
    FeedbackStatusApi,
    MemberSuggestionsApi,
)

app_name = "service"

urlpatterns = [
    path(
        "members/<int:member_id>/suggestions/",
        MemberSuggestionsApi.as_view(),
        name="member-suggestions",
    ),
    path("products/bought-together/", BoughtTogetherApi.as_view(), name="bought-together"),
    path("feedback/", FeedbackListCreateApi.as_view(), name="feedback-list"),
    path("feedback/<int:feedback_id>/", FeedbackDetailApi.as_view(), name="feedback-detail"),
    path("feedback/<int:feedback_id>/status/", FeedbackStatusApi.as_view(), name="feedback-status"),
    path(
        "feedback/<int:feedback_id>/goodwill/",
        FeedbackGoodwillApi.as_view(),
        name="feedback-goodwill",
    ),
]
