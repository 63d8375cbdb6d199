"""django-unfold: the admin theme (see README, "Why django-unfold")."""

from django.templatetags.static import static
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

UNFOLD = {
    "SITE_TITLE": _("Loyalty back office"),
    "SITE_HEADER": _("Loyalty"),
    "SITE_SUBHEADER": _("Programme back office"),
    "SITE_SYMBOL": "loyalty",
    # a favicon of our own: browsers otherwise ask for /favicon.ico and log a 404 on every page
    "SITE_FAVICONS": [
        {
            "rel": "icon",
            "type": "image/svg+xml",
            "href": lambda request: static("backoffice/favicon.svg"),
        }
    ],
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "ENVIRONMENT": "loyalty.core.admin_site.environment_badge",
    # grouped by the work staff do; technical apps last under "System", for those who need them
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "loyalty.core.admin_site.sidebar_navigation",
    },
    "LOGIN": {"redirect_after": reverse_lazy("admin:index")},
}
