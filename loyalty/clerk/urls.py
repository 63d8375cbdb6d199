from django.urls import path

from loyalty.clerk import views

app_name = "clerk"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("login/", views.ClerkLoginView.as_view(), name="login"),
    path("logout/", views.ClerkLogoutView.as_view(), name="logout"),
    path("language/", views.LanguageView.as_view(), name="language"),
    path("search/", views.SearchView.as_view(), name="search"),
    path("enrol/", views.EnrolView.as_view(), name="enrol"),
    path("voucher/", views.VoucherView.as_view(), name="voucher"),
    path("events/", views.EventsView.as_view(), name="events"),
    path("members/<int:member_id>/", views.MemberView.as_view(), name="member"),
    path("members/<int:member_id>/purchase/", views.PurchaseView.as_view(), name="purchase"),
    path("members/<int:member_id>/return/", views.ReturnView.as_view(), name="return"),
    path("members/<int:member_id>/redeem/", views.RedeemView.as_view(), name="redeem"),
    path(
        "members/<int:member_id>/pay-with-points/",
        views.PointsPaymentView.as_view(),
        name="pay",
    ),
    path("members/<int:member_id>/consents/", views.ConsentView.as_view(), name="consents"),
]
