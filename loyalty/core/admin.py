"""Auth models re-registered with the unfold theme, so users and groups look like the rest.

Also the audit log page (all audited models' changes in one list). Apps above core add inlines
to the user page through `user_admin_inline_register` (members adds the staff profile: the
store a clerk works at and whether they only see that store's members).
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from loyalty.core.audit import audit_log_list, audited_models
from loyalty.core.models import AuditLog

AUDIT_LOG_LIMIT = 200

admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    inlines = []


def user_admin_inline_register(inline: type[InlineModelAdmin]) -> None:  # type: ignore[type-arg]
    """Show `inline` on the user page (called by apps above core from their admin module)."""
    if inline not in UserAdmin.inlines:
        UserAdmin.inlines = [*UserAdmin.inlines, inline]


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass


class AuditLogFilterForm(forms.Form):
    model = forms.ChoiceField(required=False, label=_("Model"))
    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_staff=True).order_by("username"),
        required=False,
        label=_("Changed by"),
    )
    since = forms.DateField(
        required=False, label=_("From"), widget=forms.DateInput({"type": "date"})
    )
    until = forms.DateField(required=False, label=_("To"), widget=forms.DateInput({"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "All models")] + [  # type: ignore[attr-defined]
            (m._meta.label_lower, str(m._meta.verbose_name).capitalize()) for m in audited_models()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError(_("'From' must not be after 'To'."))
        return data


@admin.register(AuditLog)
class AuditLogAdmin(ModelAdmin):
    """One read-only page listing recent changes across all audited models (who, when, what,
    old -> new), filtered by model, user and dates. Needs core.view_auditlog."""

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm("core.view_auditlog")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self) -> list:
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=name)]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = AuditLogFilterForm(request.GET or None)
        entries = []
        if not form.is_bound or form.is_valid():
            data = form.cleaned_data if form.is_bound else {}
            user = data.get("user")
            entries = audit_log_list(
                model_label=data.get("model") or None,
                user_id=user.pk if user else None,
                since=data.get("since"),
                until=data.get("until"),
                limit=AUDIT_LOG_LIMIT,
            )
        return TemplateResponse(
            request,
            "admin/core/audit_log.html",
            {
                **self.admin_site.each_context(request),
                "title": "Audit log",
                "opts": self.opts,
                "form": form,
                "entries": entries,
                "limit": AUDIT_LOG_LIMIT,
            },
        )


# --- staff API tokens: when each expires and was last used (loyalty/core/api/tokens.py) ------
from rest_framework.authtoken.admin import TokenAdmin as BaseTokenAdmin  # noqa: E402
from rest_framework.authtoken.models import TokenProxy  # noqa: E402

from loyalty.core.api.tokens import staff_token_expires_at  # noqa: E402

admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class StaffTokenAdmin(BaseTokenAdmin, ModelAdmin):
    """Deleting a token revokes it at once; the user logs in again for a new one."""

    list_display = ("user", "created", "expires_at", "last_used_at")
    list_select_related = ("user", "activity")

    @admin.display(description=_("expires at"))
    def expires_at(self, token: Any) -> Any:
        return staff_token_expires_at(token) or _("no limit")

    @admin.display(description=_("last used"))
    def last_used_at(self, token: Any) -> Any:
        activity = getattr(token, "activity", None)
        return activity.last_used_at if activity is not None else _("never")
