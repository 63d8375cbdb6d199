from django.urls import path

from loyalty.ledger.api.views import (
    AdjustmentCreateApi,
    BalanceApi,
    EarnQuoteApi,
    PurchaseBatchCreateApi,
    PurchaseCreateApi,
    ReturnCreateApi,
    StatementApi,
)

app_name = "ledger"

urlpatterns = [
    path("purchases/", PurchaseCreateApi.as_view(), name="purchase-create"),
    path("purchases/batch/", PurchaseBatchCreateApi.as_view(), name="purchase-batch-create"),
    path("returns/", ReturnCreateApi.as_view(), name="return-create"),
    path("quote/", EarnQuoteApi.as_view(), name="quote"),
    path("adjustments/", AdjustmentCreateApi.as_view(), name="adjustment-create"),
    path("members/<int:member_id>/balance/", BalanceApi.as_view(), name="balance"),
    path("members/<int:member_id>/statement/", StatementApi.as_view(), name="statement"),
]
