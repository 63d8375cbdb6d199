"""Prize wheel admin for marketing staff: wheels with their prizes and live odds, free spin
grants (through the service, never changed afterwards) and the read-only log of spins."""

import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline

from campaigns.games.models import (
    PrizeWheel,
    Sweepstake,
    SweepstakeEntry,
    SweepstakePrize,
    WheelPrize,
    WheelSpin,
    WheelSpinGrant,
)
from campaigns.games.selectors import sweepstake_winners, wheel_odds
from campaigns.games.services import (
    prizes_over_winners_message,
    sweepstake_create,
    sweepstake_draw,
    wheel_spins_grant,
)
from loyalty.core.admin_mixins import ReadOnlyAdminMixin
from loyalty.core.exceptions import ApplicationError


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


class SweepstakePrizeFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        total = sum(
            form.cleaned_data.get("quantity") or 0
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        )
        winners = self.instance.winners or 0
        if total > winners:
            raise ValidationError(prizes_over_winners_message(winners))


class SweepstakePrizeInline(TabularInline):
    model = SweepstakePrize
    formset = SweepstakePrizeFormSet
    extra = 1
    fields = ("rank", "label", "kind", "points", "reward", "quantity")
    autocomplete_fields = ("reward",)

    def _drawn(self, obj: Any) -> bool:
        return obj is not None and obj.drawn_at is not None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._drawn(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._drawn(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._drawn(obj) and super().has_delete_permission(request, obj)


@admin.register(Sweepstake)
class SweepstakeAdmin(ModelAdmin):
    class Media:
        css = {"all": ("backoffice/backoffice.css",)}  # the winners table (bo-table)

    list_display = ("name", "draw_at", "entry_cost", "winners", "prize_points", "drawn_at")
    search_fields = ("name",)
    fields = (
        "name",
        "entry_cost",
        "max_entries_per_member",
        "draw_at",
        "winners",
        "prize_points",
        "message_template",
        "seed_sha256",
        "revealed_seed",
        "drawn_at",
        "winner_list",
    )
    readonly_fields = ("seed_sha256", "revealed_seed", "drawn_at", "winner_list")
    inlines = (SweepstakePrizeInline,)
    actions = ("run_draw",)

    @admin.display(description=_("winners"))
    def winner_list(self, sweepstake: Sweepstake) -> str:
        if not sweepstake.pk or not sweepstake.drawn_at:
            return str(_("(known after the draw)"))
        rows = [
            (
                entry.place,
                entry.pk,
                entry.member.member_number,
                entry.prize.label if entry.prize else "",
                _("%(n)s points") % {"n": entry.points_won}
                if entry.points_won
                else (entry.voucher.display_code if entry.voucher else ""),
            )
            for entry in sweepstake_winners(sweepstake=sweepstake)
        ]
        if not rows:
            return str(_("No entries: nobody won."))
        return format_html(
            '<table id="sweepstake-winners" class="bo-table"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
            "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("place"),
            _("entry no."),
            _("member"),
            _("prize"),
            _("prize given"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>#{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                rows,
            ),
        )

    @admin.display(description=_("revealed seed"))
    def revealed_seed(self, sweepstake: Sweepstake) -> str:
        # the seed stays secret until the draw: only its SHA-256 is shown before
        return sweepstake.seed if sweepstake.drawn_at else str(_("(revealed at the draw)"))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.drawn_at:
            return self.fields
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Sweepstake, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = sweepstake_create(
            name=obj.name,
            draw_at=obj.draw_at,
            prize_points=obj.prize_points,
            entry_cost=obj.entry_cost,
            max_entries_per_member=obj.max_entries_per_member,
            winners=obj.winners,
            message_template=obj.message_template,
        )
        obj.pk, obj.seed, obj.seed_sha256 = created.pk, created.seed, created.seed_sha256

    @admin.action(
        description=_("Run the draw (reveals the seed, gives the winners their prizes)"),
        permissions=["change"],
    )
    def run_draw(self, request: HttpRequest, queryset: QuerySet[Sweepstake]) -> None:
        for sweepstake in queryset:
            try:
                won = sweepstake_draw(sweepstake=sweepstake)
            except ApplicationError as exc:
                self.message_user(request, f"{sweepstake.name}: {exc.message}", messages.ERROR)
                continue
            self.message_user(
                request,
                _("%(name)s: %(n)s winner(s) drawn.") % {"name": sweepstake.name, "n": len(won)},
            )


@admin.register(SweepstakeEntry)
class SweepstakeEntryAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "pk",
        "sweepstake",
        "member",
        "points_spent",
        "won",
        "place",
        "prize",
        "points_won",
        "created_at",
    )
    list_filter = ("sweepstake", "won")
    list_select_related = ("sweepstake", "member", "prize")
    search_fields = ("member__member_number",)
