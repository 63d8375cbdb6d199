from django.urls import path

from loyalty.core.api.views import TokenCreateApi, WhoAmIApi

app_name = "auth"

urlpatterns = [
    path("token/", TokenCreateApi.as_view(), name="token-create"),
    path("whoami/", WhoAmIApi.as_view(), name="whoami"),
]
