"""The choice lists of segment conditions (used by the models and the validation)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ConditionField(models.TextChoices):
    TIER = "tier", _("Tier (code)")
    STATUS = "status", _("Member status")
    HOME_STORE = "home_store", _("Home store (code)")
    ENROLLED = "enrolled", _("Enrolment date")
    ENROLMENT_CHANNEL = "enrolment_channel", _("Enrolment channel")
    CONSENT = "consent", _("Marketing consent on channel")
    BIRTHDAY_MONTH = "birthday_month", _("Birthday month (1-12)")
    LAST_PURCHASE = "last_purchase", _("Last purchase")
    PURCHASE_COUNT = "purchase_count", _("Number of purchases")
    SPEND = "spend", _("Spend")
    POINTS_BALANCE = "points_balance", _("Points balance")
    REFERRED = "referred", _("Was referred by a member")
    RFM_RECENCY = "rfm_recency", _("RFM recency quintile (5 = most recent)")
    RFM_FREQUENCY = "rfm_frequency", _("RFM frequency quintile (5 = most frequent)")
    RFM_MONETARY = "rfm_monetary", _("RFM monetary quintile (5 = biggest spenders)")
    IN_SEGMENT = "in_segment", _("Member of the static list (name)")
    TAG = "tag", _("Interest tag")
    LIFECYCLE_STAGE = "lifecycle_stage", _("Lifecycle stage (prospect, new, loyal, lapsed...)")
    VIP_OF_MONTH = "vip_of_month", _("VIP of the month (the latest pick)")


class ConditionOperator(models.TextChoices):
    IS = "is", _("is")
    IS_NOT = "is_not", _("is not")
    AT_LEAST = "gte", _("at least")
    AT_MOST = "lte", _("at most")
    BEFORE = "before", _("before (date)")
    AFTER = "after", _("on or after (date)")
    WITHIN_DAYS = "within", _("within the last N days")
    NOT_WITHIN_DAYS = "not_within", _("not within the last N days")
