import json
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportModelAdmin
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from loyalty.core.admin import user_admin_inline_register
from loyalty.core.admin_mixins import AuditedAdminMixin
from loyalty.core.exceptions import ApplicationError
from loyalty.core.widgets import TagListField
from members.admin_import import SkipBadRowsAdminMixin
from members.identifiers import looks_like_phone, normalize_email, normalize_phone
from members.models import (
    Consent,
    ConsentEvent,
    Member,
    MemberEvent,
    MemberIdentity,
    StaffProfile,
    Store,
)
from members.resources import MemberResource, StoreResource
from members.selectors import member_list_for_staff
from members.services import (
    member_erase,
    member_privacy_export,
    member_reactivate,
    member_suspend,
)

if TYPE_CHECKING:
    from django.contrib.admin.options import _ListFilterT


class ReadOnlyInline(TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ConsentInline(ReadOnlyInline):
    model = Consent
    fields = ("channel", "granted", "changed_at", "source")
    readonly_fields = fields
    verbose_name_plural = _("Marketing consent")


class ConsentEventInline(ReadOnlyInline):
    model = ConsentEvent
    fields = ("created_at", "channel", "granted", "source", "actor")
    readonly_fields = fields
    verbose_name_plural = _("Consent history")


class MemberEventInline(ReadOnlyInline):
    model = MemberEvent
    fields = ("created_at", "kind", "details", "actor")
    readonly_fields = fields
    verbose_name_plural = _("Member history")

    @admin.display(description=_("Details"))
    def details(self, event: MemberEvent) -> str:
        return event.describe()  # in words, not the stored JSON


class MemberIdentityInline(TabularInline):
    """The member's ids in other systems (web shop, WeChat, Alipay, partner cards): each finds
    the member at the till and in the API. Saved through the services (see save_formset)."""

    model = MemberIdentity
    extra = 0
    fields = ("kind", "value", "created_at")
    readonly_fields = ("created_at",)
    verbose_name = _("external id")
    verbose_name_plural = _("External ids (web shop, WeChat, Alipay, partner cards)")


class ConsentFilter(admin.SimpleListFilter):
    title = _("e-mail consent")
    parameter_name = "email_consent"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, Any]]:
        return [("yes", _("Given")), ("no", _("Not given"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(
                consents__channel=Consent.Channel.EMAIL, consents__granted=self.value() == "yes"
            )
        return queryset


@admin.register(Store)
class StoreAdmin(AuditedAdminMixin, ModelAdmin, ImportExportModelAdmin):
    resource_classes = [StoreResource]
    import_form_class = ImportForm
    export_form_class = ExportForm
    list_display = ("code", "name", "region", "active")
    list_filter = ("active", "region")
    search_fields = ("code", "name", "region")


class MemberAdminForm(forms.ModelForm):
    """Normalises contact data like the services do, so mistakes are form errors, not crashes."""

    class Meta:
        model = Member
        fields = (
            "full_name",
            "first_name",
            "last_name",
            "email",
            "phone",
            "birth_date",
            "street",
            "city",
            "postcode",
            "country",
            "home_store",
            "interests",
            "external_ref",
        )

    interests = TagListField(
        label=_("Interests"),
        max_tags=50,
        max_length=40,
        help_text=_("Short tags, e.g. running, coffee; press Enter after each."),
    )

    def clean_email(self) -> str | None:
        try:
            return normalize_email(self.cleaned_data.get("email"))
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc

    def clean_phone(self) -> str | None:
        try:
            return normalize_phone(self.cleaned_data.get("phone"))
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc


@admin.register(Member)
class MemberAdmin(AuditedAdminMixin, SkipBadRowsAdminMixin, ModelAdmin, ImportExportModelAdmin):
    resource_classes = [MemberResource]
    export_form_class = ExportForm
    import_template_name = "admin/members/member/import.html"
    form = MemberAdminForm
    list_display: tuple[str, ...] = (  # the back office's admin extends these two
        "member_number",
        "name",
        "email",
        "phone",
        "home_store",
        "enrolment_channel",
        "enrolled_at",
        "status",
    )
    list_select_related = ("home_store",)
    list_filter: ClassVar[tuple["_ListFilterT", ...]] = (
        "status",
        "home_store",
        "enrolment_channel",
        ("enrolled_at", admin.DateFieldListFilter),
        ConsentFilter,
    )
    search_fields = (
        "member_number",
        "email",
        "phone",
        "last_name",
        "first_name",
        "full_name",
        "name_pinyin",
        "identities__value",
    )
    search_help_text = _(
        "Card number, e-mail, phone (e.g. 07911 123456 or +447911123456), external id "
        "(WeChat, Alipay, web shop, partner card), or name (Anna Smith, 王小明 or its pinyin "
        "wangxiaoming)"
    )
    list_per_page = 50
    show_full_result_count = False  # COUNT(*) over a million rows on every page is not free
    date_hierarchy = "enrolled_at"
    readonly_fields = (
        "member_number",
        "referral_code",
        "referred_by",
        "enrolment_channel",
        "enrolled_at",
        "status",
        "status_reason",
        "status_changed_at",
        "erased_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (_("Card"), {"fields": ("member_number", "status", "status_reason", "status_changed_at")}),
        (
            _("Contact"),
            {
                "fields": (
                    "full_name",
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "birth_date",
                )
            },
        ),
        (_("Address"), {"fields": ("street", "city", "postcode", "country")}),
        (
            _("Programme"),
            {
                "fields": (
                    "home_store",
                    "enrolment_channel",
                    "enrolled_at",
                    "referral_code",
                    "referred_by",
                    "interests",
                    "external_ref",
                    "erased_at",
                )
            },
        ),
    )
    inlines = [MemberIdentityInline, ConsentInline, ConsentEventInline, MemberEventInline]
    # other apps append their actions (functions) to this list
    actions: list[Any] = [
        "suspend_members",
        "reactivate_members",
        "export_member_data",
        "erase_members",
    ]

    def get_urls(self) -> list:
        from django.urls import path

        urls = super().get_urls()
        extra = [
            path(
                "import/skipped/<str:token>/",
                self.admin_site.admin_view(self.skipped_rows_view),
                name="members_member_import_skipped",
            )
        ]
        return extra + urls

    def import_action(self, request: HttpRequest, **kwargs: object) -> HttpResponse:
        response = super().import_action(request, **kwargs)
        result = (
            getattr(response, "context_data", {}).get("result")
            if hasattr(response, "context_data")
            else None
        )
        skipped = getattr(result, "_skipped_bad_rows", None) if result is not None else None
        if skipped:
            from django.urls import reverse
            from django.utils.html import format_html

            token = self.remember_skipped(request, skipped)
            url = reverse("admin:members_member_import_skipped", args=[token])
            response.context_data["skipped_bad_rows"] = skipped
            messages.warning(
                request,
                format_html(
                    '{} <a href="{}">{}</a>',
                    ngettext(
                        "%(n)s bad row will be skipped.",
                        "%(n)s bad rows will be skipped.",
                        len(skipped),
                    )
                    % {"n": len(skipped)},
                    url,
                    _("Download the skipped rows (CSV)."),
                ),
            )
        return response

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # A clerk restricted to a store sees (and exports, and opens) only that store's members;
        # another store's member is "not found", exactly like a member that does not exist.
        qs = member_list_for_staff(user=request.user)
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        # A phone typed the way people say it (07911 100231) is read with the programme's
        # default region (PHONE_DEFAULT_REGION) and matched on the stored E.164 form, like the
        # clerk and API lookups do; the usual text search still runs beside it.
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if looks_like_phone(term):
            try:
                phone = normalize_phone(term)
            except ValidationError:
                phone = None
            if phone:
                queryset |= self.get_queryset(request).filter(phone=phone)
        return queryset, may_have_duplicates

    @admin.display(description=_("Name"), ordering="full_name")
    def name(self, member: Member) -> str:
        return member.display_name  # family name first in Chinese (members/names.py)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not MemberIdentity:
            super().save_formset(request, form, formset, change)
            return
        # external ids change through the services (history event, webhook, unique check)
        from members.services import identity_attach, identity_detach, identity_update

        member = form.instance
        # what the admin's change message lists (ModelFormSet.save() would have set them)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed() and inline_form.instance.pk is None:
                continue
            data = inline_form.cleaned_data
            identity = inline_form.instance
            try:
                if data.get("DELETE") and identity.pk:
                    stored = MemberIdentity.objects.get(pk=identity.pk)
                    identity_detach(identity=stored, actor=request.user)
                    formset.deleted_objects.append(stored)
                elif identity.pk:
                    if inline_form.has_changed():
                        changed = identity_update(
                            identity=MemberIdentity.objects.get(pk=identity.pk),
                            kind=data["kind"],
                            value=data["value"],
                            actor=request.user,
                        )
                        formset.changed_objects.append((changed, inline_form.changed_data))
                elif data.get("kind") and data.get("value"):
                    added = identity_attach(
                        member=member, kind=data["kind"], value=data["value"], actor=request.user
                    )
                    formset.new_objects.append(added)
            except (ApplicationError, ValidationError) as exc:
                text = exc.message if isinstance(exc, ApplicationError) else "; ".join(exc.messages)
                self.message_user(request, text, level=messages.ERROR)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # enrolment runs through member_enroll (card number, consents, history): clerk screen/API
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # a member with history is never deleted: erasure anonymises it (see the erase action)
        return False

    def save_model(self, request: HttpRequest, obj: Member, form: object, change: bool) -> None:
        from members.services import member_update

        changed = {name: form.cleaned_data[name] for name in form.changed_data}  # type: ignore[attr-defined]
        try:
            member_update(member=Member.objects.get(pk=obj.pk), data=changed, actor=request.user)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)

    def _each(
        self, request: HttpRequest, queryset: QuerySet, service: object, **kwargs: object
    ) -> None:
        done = 0
        for member in queryset:
            try:
                service(member=member, actor=request.user, **kwargs)  # type: ignore[operator]
                done += 1
            except ApplicationError as exc:
                self.message_user(
                    request,
                    _("%(member_number)s: %(message)s")
                    % {"member_number": member.member_number, "message": exc.message},
                    level=messages.ERROR,
                )
        if done:
            self.message_user(
                request, _("%(done)s member(s) updated.") % {"done": done}, level=messages.SUCCESS
            )

    @admin.action(description=_("Suspend selected members"), permissions=["change"])
    def suspend_members(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request, queryset, member_suspend, reason=f"suspended in the admin by {request.user}"
        )

    @admin.action(description=_("Reactivate selected members"), permissions=["change"])
    def reactivate_members(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, member_reactivate, reason="reactivated in the admin")

    @admin.action(description=_("Export personal data (JSON)"), permissions=["export"])
    def export_member_data(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        data = [member_privacy_export(member=m, actor=request.user) for m in queryset[:100]]
        response = HttpResponse(
            json.dumps(data, indent=2, default=str), content_type="application/json"
        )
        response["Content-Disposition"] = 'attachment; filename="member-data.json"'
        return response

    @admin.action(description=_("Erase personal data (irreversible)"), permissions=["change"])
    def erase_members(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if request.POST.get("confirm") == "yes":
            self._each(request, queryset, member_erase)
            return None
        return TemplateResponse(
            request,
            "admin/members/member/erase_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "title": "Erase personal data?",
                "members": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )


def member_admin_inline_register(inline: type[Any]) -> None:
    """Show `inline` on the member page. Apps above members call it from their admin module
    (the customer service app shows a member's feedback and complaints there); the members app
    never imports them."""
    if inline not in MemberAdmin.inlines:
        MemberAdmin.inlines = [*MemberAdmin.inlines, inline]


class StaffProfileInline(StackedInline):
    """On the user page: the store a clerk works at and whether they only see its members."""

    model = StaffProfile
    can_delete = False
    extra = 1  # the empty form to create one; none once the profile exists (max_num)
    max_num = 1
    fk_name = "user"
    fields = ["store", "restricted_to_store", "language"]
    autocomplete_fields = ["store"]
    verbose_name = _("Store and language")
    verbose_name_plural = _("Store and language")


user_admin_inline_register(StaffProfileInline)
