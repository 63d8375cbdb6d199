from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import RangeDateTimeFilter

from loyalty.core.admin_mixins import ReadOnlyAdminMixin
from loyalty.core.channels import SalesChannel
from loyalty.core.events import EVENT_TYPES
from loyalty.core.exceptions import ApplicationError
from loyalty.core.formatting import format_moment
from loyalty.core.scopes import SCOPE_CHOICES
from loyalty.integrations.models import (
    ApiClient,
    ApiRequestLog,
    WebhookDelivery,
    WebhookSubscription,
)
from loyalty.integrations.services import (
    DEFAULT_ROTATION_OVERLAP,
    api_client_create,
    api_client_revoke,
    api_client_rotate,
    webhook_delivery_redeliver,
    webhook_subscription_create,
)


class ApiClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=SCOPE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[("", _("any channel")), *SalesChannel.choices],
        required=False,
    )

    class Meta:
        model = ApiClient
        fields = [
            "name",
            "scopes",
            "store",
            "channel",
            "rate_limit_per_minute",
            "expires_at",
            "notes",
        ]


def _shown_once(
    request: HttpRequest, admin_site: Any, obj: Any, *, heading: str, value: str, **extra: Any
) -> HttpResponse:
    opts = obj._meta
    response = TemplateResponse(
        request,
        "admin/integrations/secret_shown_once.html",
        {
            **admin_site.each_context(request),
            "title": heading,
            "heading": heading,
            "value": value,
            "object": obj,
            "continue_url": reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]
            ),
            **extra,
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@admin.register(ApiClient)
class ApiClientAdmin(ModelAdmin):
    form = ApiClientForm
    list_display = [
        "name",
        "prefix",
        "store",
        "channel",
        "scope_list",
        "rate_limit_per_minute",
        "last_used_at",
        "expires_at",
        "key_state",
        "revoked_at",
    ]
    list_filter = ["store", "channel", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["store"]
    search_fields = ["name", "prefix"]
    readonly_fields = [
        "prefix",
        "user",
        "last_used_at",
        "revoked_at",
        "previous_prefix",
        "previous_key_valid_until",
        "created_at",
    ]
    actions = ["revoke", "rotate"]

    @admin.display(description=_("Key"))
    def key_state(self, obj: ApiClient) -> str:
        now = timezone.now()
        if obj.revoked_at is not None:
            return str(_("revoked"))
        if obj.is_expired(now):
            return str(_("expired"))
        if obj.previous_key_valid_until and obj.previous_key_valid_until > now:
            return str(_("rotated: old key (%(prefix)s) accepted until %(until)s")) % {
                "prefix": obj.previous_prefix,
                "until": format_moment(obj.previous_key_valid_until),
            }
        return str(_("active"))

    @admin.display(description=_("Scopes"))
    def scope_list(self, obj: ApiClient) -> str:
        return ", ".join(obj.scopes) or "-"

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        if change:
            obj.save()  # name, scopes, bindings, limit: plain fields without side effects
            return
        created = api_client_create(
            name=obj.name,
            scopes=list(obj.scopes),
            store=obj.store,
            channel=obj.channel,
            rate_limit_per_minute=obj.rate_limit_per_minute,
            notes=obj.notes,
            expires_at=obj.expires_at,
        )
        form.instance = obj = created.client
        request._created_api_key = created.key  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: ApiClient, *args: Any) -> HttpResponse:
        key = getattr(request, "_created_api_key", None)
        if key is None:
            return super().response_add(request, obj, *args)
        return _shown_once(
            request,
            self.admin_site,
            obj,
            heading=_("API key for %(name)s") % {"name": obj.name},
            value=key,
            kind="key",
            lost_hint=_("revoke this client and create a new one"),
            usage=_("Send it as the header  Authorization: Api-Key <key>."),
        )

    @admin.action(
        description=_("Revoke the selected keys (at once, for good)"), permissions=["change"]
    )
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for client in queryset:
            try:
                api_client_revoke(client=client)
                done += 1
            except ApplicationError as exc:
                self.message_user(
                    request,
                    _("%(client)s: %(message)s") % {"client": client, "message": exc.message},
                    level=messages.ERROR,
                )
        if done:
            self.message_user(
                request, _("Revoked %(done)s key(s).") % {"done": done}, level=messages.SUCCESS
            )

    @admin.action(
        description=_("Rotate the key: issue a new one, the old one keeps working 24 hours"),
        permissions=["change"],
    )
    def rotate(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(
                request, _("Rotate one client at a time: select exactly one."), messages.ERROR
            )
            return None
        client = queryset.get()
        try:
            rotated = api_client_rotate(client=client, old_key_valid_for=DEFAULT_ROTATION_OVERLAP)
        except ApplicationError as exc:
            self.message_user(
                request,
                _("%(client)s: %(message)s") % {"client": client, "message": exc.message},
                level=messages.ERROR,
            )
            return None
        old_key_until = rotated.client.previous_key_valid_until  # set by every rotation
        until = format_moment(old_key_until) if old_key_until else ""
        return _shown_once(
            request,
            self.admin_site,
            rotated.client,
            heading=_("New API key for %(name)s") % {"name": rotated.client.name},
            value=rotated.key,
            kind="key",
            lost_hint=_("rotate again"),
            usage=_(
                "Send it as the header  Authorization: Api-Key <key>. The old key keeps "
                "working until %(until)s, then it is refused."
            )
            % {"until": until},
        )


@admin.register(ApiRequestLog)
class ApiRequestLogAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["created_at", "client", "method", "route", "status_code", "latency_ms"]
    list_filter = [
        "client",
        "method",
        "status_code",
        ("created_at", RangeDateTimeFilter),
    ]
    list_filter_submit = True
    list_select_related = ["client"]
    search_fields = ["path", "route", "client__prefix", "client__name"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # the log is large; skip the extra COUNT(*)


class WebhookSubscriptionForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        label=_("Event types"),
        choices=[(e, e) for e in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookSubscription
        fields = ["client", "target_url", "event_types", "active"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["target_url", "client", "event_list", "active", "created_at"]
    list_filter = ["active", "client"]
    list_select_related = ["client"]
    search_fields = ["target_url", "client__name", "client__prefix"]

    @admin.display(description=_("Events"))
    def event_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.event_types)

    def save_model(
        self, request: HttpRequest, obj: WebhookSubscription, form: Any, change: bool
    ) -> None:
        if change:
            obj.save()
            return
        created = webhook_subscription_create(
            client=obj.client,
            target_url=obj.target_url,
            event_types=list(obj.event_types),
            active=obj.active,
        )
        form.instance = created.subscription
        request._created_webhook_secret = created.secret  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: WebhookSubscription, *args: Any
    ) -> HttpResponse:
        secret = getattr(request, "_created_webhook_secret", None)
        if secret is None:
            return super().response_add(request, obj, *args)
        return _shown_once(
            request,
            self.admin_site,
            obj,
            heading=_("Signing secret for %(url)s") % {"url": obj.target_url},
            value=secret,
            kind="secret",
            lost_hint=_("delete this subscription and create a new one"),
            usage=_("Verify X-Loyalty-Signature with it (docs/api.md, Webhooks)."),
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "pk",
        "event_type",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    ]
    list_filter = [
        "status",
        "event_type",
        "subscription__client",
        ("created_at", RangeDateTimeFilter),
    ]
    list_filter_submit = True
    list_select_related = ["subscription__client"]
    search_fields = ["event_id", "subscription__target_url"]
    actions = ["redeliver"]

    # The log is read-only; sending again needs the "change webhook delivery" permission.
    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.change_webhookdelivery")

    @admin.action(description=_("Redeliver the selected events"), permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for delivery in queryset:
            webhook_delivery_redeliver(delivery=delivery)
            count += 1
        self.message_user(
            request,
            _("%(count)s delivery(ies) queued to be sent again.") % {"count": count},
            level=messages.SUCCESS,
        )
