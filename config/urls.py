from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from loyalty.core.api.handlers import favicon
from loyalty.core.api.views import HealthApi

api_v1 = [
    path("auth/", include("loyalty.core.api.urls", namespace="auth")),
    path("members/", include("members.api.urls", namespace="members")),
    path("ledger/", include("loyalty.ledger.api.urls", namespace="ledger")),
    path("tiers/", include("loyalty.tiers.api.urls", namespace="tiers")),
    path("rewards/", include("rewards.api.urls", namespace="rewards")),
    path("campaigns/", include("campaigns.api.urls", namespace="campaigns")),
    path("service/", include("campaigns.service.api.urls", namespace="service")),
    path("engagement/", include("campaigns.engagement.api.urls", namespace="engagement")),
    path("membership/", include("campaigns.membership.api.urls", namespace="membership")),
    path("games/", include("campaigns.games.api.urls", namespace="games")),
    path("events/", include("campaigns.events.api.urls", namespace="events")),
    path("analytics/", include("analytics.api.urls", namespace="analytics")),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False), name="home"),
    path("admin/", admin.site.urls),
    path("clerk/", include("loyalty.clerk.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view serves its start-up script as a file: no inline script under the CSP
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("healthz", HealthApi.as_view(), name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler404 = "loyalty.core.api.handlers.not_found"
handler500 = "loyalty.core.api.handlers.error"
