from django.apps import AppConfig


class TiersConfig(AppConfig):
    name = "loyalty.tiers"
    label = "tiers"
    verbose_name = "Tiers"
