"""django-unfold: the admin theme (see README, "Why django-unfold")."""

from django.urls import reverse_lazy

UNFOLD = {
    "SITE_TITLE": "Loyalty back office",
    "SITE_HEADER": "Loyalty",
    "SITE_SUBHEADER": "Programme back office",
    "SITE_SYMBOL": "loyalty",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "ENVIRONMENT": "loyalty.core.admin_site.environment_badge",
    "SIDEBAR": {"show_search": True, "show_all_applications": True},
    "LOGIN": {"redirect_after": reverse_lazy("admin:index")},
}
