"""Engagement admin for marketing staff: badge rules in words, the lifecycle and streak
settings with help texts, and read-only lists of badges earned, stages, stage changes, members
per stage, streaks, event attendances and the VIPs of the month."""

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from campaigns.engagement.models import (
    BadgeRule,
    EngagementSettings,
    EventAttendance,
    MemberBadge,
    MemberStage,
    MemberStreak,
    StageChange,
    StageCount,
    VipOfMonth,
)
from loyalty.core.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin, SingletonAdminMixin


@admin.register(EngagementSettings)
class EngagementSettingsAdmin(SingletonAdminMixin, AuditedAdminMixin, ModelAdmin):
    fieldsets = (
        (
            _("Lifecycle stages"),
            {
                "description": _(
                    "Recomputed every night and after every purchase or return. First match "
                    "wins: prospect (no purchase), lapsed, lapsing, won back, advocate, loyal, "
                    "new, repeat."
                ),
                "fields": (
                    "new_days",
                    "repeat_min_purchases",
                    ("loyal_min_purchases", "loyal_window_days"),
                    ("lapsing_days", "lapsed_days"),
                    "won_back_days",
                    "advocate_min_score",
                ),
            },
        ),
        (_("Streaks"), {"fields": ("streak_period",)}),
        (_("Milestone messages"), {"fields": ("milestone_template",)}),
    )
    autocomplete_fields = ("milestone_template",)


@admin.register(BadgeRule)
class BadgeRuleAdmin(AuditedAdminMixin, ModelAdmin):
    list_display = ("name", "rule_in_words", "active", "awarded")
    list_filter = ("kind", "active")
    search_fields = ("name", "code")
    list_select_related = ("tier",)
    prepopulated_fields = {"code": ("name",)}
    autocomplete_fields = ("message_template",)
    fields = (
        "name",
        "code",
        "kind",
        "threshold",
        "tier",
        "repeatable",
        "active",
        "description",
        "message_template",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[BadgeRule]:
        return super().get_queryset(request).annotate(n_awarded=Count("awards"))

    @admin.display(description=_("rule"))
    def rule_in_words(self, obj: BadgeRule) -> str:
        return obj.describe()

    @admin.display(description=_("times awarded"), ordering="n_awarded")
    def awarded(self, obj: Any) -> int:
        return int(getattr(obj, "n_awarded", 0))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # a rule members already hold stays (switch it off instead)
        if obj is not None and obj.awards.exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(MemberBadge)
class MemberBadgeAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("rule", "member", "sequence", "awarded_at", "source")
    list_filter = ("rule", "source")
    list_select_related = ("rule", "member")
    search_fields = ("member__member_number", "member__last_name")
    date_hierarchy = "awarded_at"


@admin.register(MemberStage)
class MemberStageAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("member", "stage", "since")
    list_filter = ("stage",)
    list_select_related = ("member",)
    search_fields = ("member__member_number", "member__last_name")


@admin.register(StageChange)
class StageChangeAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("member", "from_stage", "to_stage", "changed_at", "cause")
    list_filter = ("to_stage", "from_stage", "cause")
    list_select_related = ("member",)
    search_fields = ("member__member_number", "member__last_name")
    date_hierarchy = "changed_at"


@admin.register(StageCount)
class StageCountAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("day", "stage", "members")
    list_filter = ("stage",)
    date_hierarchy = "day"


@admin.register(MemberStreak)
class MemberStreakAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("member", "period", "current", "longest", "last_period_start")
    list_select_related = ("member",)
    search_fields = ("member__member_number", "member__last_name")


@admin.register(EventAttendance)
class EventAttendanceAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("member", "event_ref", "attended_at")
    list_select_related = ("member",)
    search_fields = ("member__member_number", "event_ref")


@admin.register(VipOfMonth)
class VipOfMonthAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Picked by the nightly job for the month just ended: the highest net spend in the month
    among members whose stage is 'loyal', ties to the earliest enrolment."""

    list_display = ("month_name", "member", "spend")
    list_select_related = ("member",)

    @admin.display(description=_("month"), ordering="month")
    def month_name(self, obj: VipOfMonth) -> str:
        return date_format(obj.month, "YEAR_MONTH_FORMAT")  # December 2026 / 2026年12月
