from django.urls import path

from rewards.api.views import (
    CauseListApi,
    MemberCatalogueApi,
    MemberVoucherListApi,
    PointsPaymentCreateApi,
    RedemptionCancelApi,
    RedemptionCreateApi,
    RewardListApi,
    VoucherCheckApi,
    VoucherConsumeApi,
    VoucherIssueApi,
    VoucherSellApi,
    VoucherUndoApi,
)

app_name = "rewards"

urlpatterns = [
    path("", RewardListApi.as_view(), name="reward-list"),
    path("causes/", CauseListApi.as_view(), name="cause-list"),
    path("members/<int:member_id>/catalogue/", MemberCatalogueApi.as_view(), name="catalogue"),
    path("members/<int:member_id>/vouchers/", MemberVoucherListApi.as_view(), name="vouchers"),
    path("redemptions/", RedemptionCreateApi.as_view(), name="redemption-create"),
    path(
        "redemptions/<int:redemption_id>/cancel/",
        RedemptionCancelApi.as_view(),
        name="redemption-cancel",
    ),
    path("points-payments/", PointsPaymentCreateApi.as_view(), name="points-payment-create"),
    path("vouchers/<str:code>/", VoucherCheckApi.as_view(), name="voucher-check"),
    path("vouchers/<str:code>/consume/", VoucherConsumeApi.as_view(), name="voucher-consume"),
    path("vouchers/<str:code>/undo/", VoucherUndoApi.as_view(), name="voucher-undo"),
    path("vouchers/<str:code>/issue/", VoucherIssueApi.as_view(), name="voucher-issue"),
    path("vouchers/<str:code>/sell/", VoucherSellApi.as_view(), name="voucher-sell"),
]
