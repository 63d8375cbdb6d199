"""Prize wheel admin for marketing staff: wheels with their prizes and live odds, free spin
grants (through the service, never changed afterwards) and the read-only log of spins."""

import uuid
from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline

from campaigns.games.models import PrizeWheel, WheelPrize, WheelSpin, WheelSpinGrant
from campaigns.games.selectors import wheel_odds
from campaigns.games.services import wheel_spins_grant
from loyalty.core.admin_mixins import ReadOnlyAdminMixin


class WheelPrizeInline(TabularInline):
    model = WheelPrize
    extra = 1
    fields = ("label", "kind", "points", "weight", "stock", "awarded", "chance")
    readonly_fields = ("awarded", "chance")

    @admin.display(description=_("chance on the next spin"))
    def chance(self, prize: WheelPrize) -> str:
        if not prize.pk:
            return "-"
        for odds in wheel_odds(wheel=prize.wheel):
            if odds.prize.pk == prize.pk:
                return f"{odds.chance_percent} %"
        return "-"


@admin.register(PrizeWheel)
class PrizeWheelAdmin(ModelAdmin):
    list_display = ("name", "spin_cost", "is_active", "prize_count", "spin_count")
    list_filter = ("is_active",)
    search_fields = ("name",)
    fields = ("name", "description", "spin_cost", "is_active")
    inlines = (WheelPrizeInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[PrizeWheel]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_prizes=Count("prizes", distinct=True), n_spins=Count("spins", distinct=True)
            )
        )

    @admin.display(description=_("prizes"), ordering="n_prizes")
    def prize_count(self, wheel: Any) -> int:
        return int(wheel.n_prizes)

    @admin.display(description=_("spins"), ordering="n_spins")
    def spin_count(self, wheel: Any) -> int:
        return int(wheel.n_spins)


@admin.register(WheelSpinGrant)
class WheelSpinGrantAdmin(ModelAdmin):
    list_display = ("created_at", "wheel", "member", "spins", "used", "reason")
    list_filter = ("wheel",)
    list_select_related = ("wheel", "member")
    search_fields = ("member__member_number", "reason")
    autocomplete_fields = ("member",)
    fields = ("wheel", "member", "spins", "reason")

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # a grant is a fact once made: a wrong one is balanced by a new grant, not edited
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: WheelSpinGrant, form: Any, change: bool
    ) -> None:
        granted = wheel_spins_grant(
            wheel=obj.wheel,
            member=obj.member,
            spins=obj.spins,
            reason=obj.reason,
            idempotency_key=f"admin:{uuid.uuid4()}",
        )
        obj.pk = granted.pk
        obj.idempotency_key = granted.idempotency_key


@admin.register(WheelSpin)
class WheelSpinAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "created_at",
        "wheel",
        "member",
        "prize",
        "points_spent",
        "points_won",
        "spin_id",
    )
    list_filter = ("wheel",)
    list_select_related = ("wheel", "member", "prize")
    search_fields = ("member__member_number", "spin_id")
