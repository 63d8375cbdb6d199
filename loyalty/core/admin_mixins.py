"""Admin building blocks shared by the apps."""

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin


class SingletonAdminMixin:
    """A settings model with exactly one row (pk=1): the list opens that row, nothing deletes it."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not self.model.objects.exists()  # type: ignore[attr-defined]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        obj, _ = self.model.objects.get_or_create(pk=1)  # type: ignore[attr-defined]
        opts = self.model._meta  # type: ignore[attr-defined]
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        )


class ReadOnlyAdminMixin:
    """History and ledger rows: visible in the admin, never added, changed or deleted there."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class AuditedAdminMixin(SimpleHistoryAdmin):
    """A "History" page on each change page (django-simple-history): who changed what and when,
    with old -> new values per field.

    The history is read-only (SIMPLE_HISTORY_REVERT_DISABLED): a posted "revert" is refused,
    because putting an old version back must go through the services. An object the user may
    not see through this admin's get_queryset (another store's member for a restricted clerk)
    has no visible history either, although simple-history would otherwise fall back to it.
    """

    def _ensure_visible(self, request: HttpRequest, object_id: str) -> None:
        model = self.model
        try:
            pk = model._meta.pk.to_python(unquote(object_id))
        except ValidationError:
            raise Http404 from None
        exists = model._default_manager.filter(pk=pk).exists()
        if exists and not self.get_queryset(request).filter(pk=pk).exists():
            raise Http404

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        self._ensure_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict | None = None,
    ) -> HttpResponse:
        if request.method != "GET":
            raise PermissionDenied(_("History is read-only."))
        self._ensure_visible(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)
