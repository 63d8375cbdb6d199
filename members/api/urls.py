from django.urls import path

from members.api.views import (
    MemberDetailApi,
    MemberEraseApi,
    MemberIdentityDetailApi,
    MemberIdentityListApi,
    MemberListApi,
    MemberLookupApi,
    MemberPrivacyExportApi,
    MemberStatusChangeApi,
    StoreListApi,
)

app_name = "members"

urlpatterns = [
    path("", MemberListApi.as_view(), name="list"),
    path("lookup/", MemberLookupApi.as_view(), name="lookup"),
    path("stores/", StoreListApi.as_view(), name="stores"),
    path("<int:member_id>/", MemberDetailApi.as_view(), name="detail"),
    path("<int:member_id>/status/", MemberStatusChangeApi.as_view(), name="status"),
    path(
        "<int:member_id>/privacy-export/", MemberPrivacyExportApi.as_view(), name="privacy-export"
    ),
    path("<int:member_id>/erase/", MemberEraseApi.as_view(), name="erase"),
    path("<int:member_id>/identities/", MemberIdentityListApi.as_view(), name="identities"),
    path(
        "<int:member_id>/identities/<int:identity_id>/",
        MemberIdentityDetailApi.as_view(),
        name="identity",
    ),
]
