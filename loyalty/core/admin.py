"""Auth models re-registered with the unfold theme, so users and groups look like the rest.

The user page carries the staff profile inline: the store a clerk works at and whether they
only see that store's members.
"""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from unfold.admin import ModelAdmin, StackedInline
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from members.models import StaffProfile

admin.site.unregister(User)
admin.site.unregister(Group)


class StaffProfileInline(StackedInline):
    model = StaffProfile
    can_delete = False
    extra = 1  # the empty form to create one; none once the profile exists (max_num)
    max_num = 1
    fk_name = "user"
    fields = ["store", "restricted_to_store"]
    autocomplete_fields = ["store"]
    verbose_name = "Store"
    verbose_name_plural = "Store"


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    inlines = [StaffProfileInline]


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass
