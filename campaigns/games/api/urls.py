from django.urls import path

from campaigns.games.api.views import WheelGetApi, WheelSpinCreateApi

app_name = "games"

urlpatterns = [
    path("wheels/<int:wheel_id>/", WheelGetApi.as_view(), name="wheel-get"),
    path("wheels/<int:wheel_id>/spins/", WheelSpinCreateApi.as_view(), name="wheel-spin"),
]
