"""Catalogue import/export (django-import-export): rewards keyed by their code.

Rows are validated by the model (full_clean with its constraints), so a bad row is reported with
its number and reason and nothing is written; re-importing the same file changes nothing. Stock
counters, redemptions and vouchers are never imported: they move only through the services.
"""

from import_export import fields, resources, widgets

from loyalty.core.csvsafe import NeutraliseExportMixin
from loyalty.tiers.models import Tier
from rewards.models import Reward

REWARD_COLUMNS = (
    "code",
    "name",
    "description",
    "kind",
    "points_cost",
    "amount_off",
    "percent_off",
    "max_discount",
    "product_sku",
    "active",
    "available_from",
    "available_until",
    "visibility",
    "min_tier",
    "stock",
    "low_stock_threshold",
    "limit_per_member",
    "limit_per_period",
    "limit_period",
    "voucher_valid_days",
    "refund_points_on_expiry",
    "vouchers_member_bound",
    "sort_order",
)


class RewardResource(NeutraliseExportMixin, resources.ModelResource):
    min_tier = fields.Field(
        attribute="min_tier",
        column_name="min_tier",
        widget=widgets.ForeignKeyWidget(Tier, field="code"),
    )

    class Meta:
        model = Reward
        import_id_fields = ("code",)
        fields = REWARD_COLUMNS
        export_order = REWARD_COLUMNS
        skip_unchanged = True
        report_skipped = False
        clean_model_instances = True
