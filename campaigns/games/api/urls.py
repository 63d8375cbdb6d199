from django.urls import path

from campaigns.games.api.views import (
    SweepstakeDrawApi,
    SweepstakeEntriesApi,
    SweepstakeGetApi,
    SweepstakeListApi,
    WheelGetApi,
    WheelSpinCreateApi,
)

app_name = "games"

urlpatterns = [
    path("wheels/<int:wheel_id>/", WheelGetApi.as_view(), name="wheel-get"),
    path("wheels/<int:wheel_id>/spins/", WheelSpinCreateApi.as_view(), name="wheel-spin"),
    path("sweepstakes/", SweepstakeListApi.as_view(), name="sweepstake-list"),
    path("sweepstakes/<int:sweepstake_id>/", SweepstakeGetApi.as_view(), name="sweepstake-get"),
    path(
        "sweepstakes/<int:sweepstake_id>/entries/",
        SweepstakeEntriesApi.as_view(),
        name="sweepstake-entries",
    ),
    path(
        "sweepstakes/<int:sweepstake_id>/draw/", SweepstakeDrawApi.as_view(), name="sweepstake-draw"
    ),
]
