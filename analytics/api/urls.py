from django.urls import path

from analytics.api.views import VIEWS

app_name = "analytics"

urlpatterns = []
for _name, (_view, _csv_view) in VIEWS.items():
    _slug = _name.replace("_", "-")
    urlpatterns += [
        path(f"{_slug}/", _view.as_view(), name=_name),
        path(f"{_slug}/csv/", _csv_view.as_view(), name=f"{_name}-csv"),
    ]
