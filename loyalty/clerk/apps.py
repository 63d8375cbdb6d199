from django.apps import AppConfig


class ClerkConfig(AppConfig):
    name = "loyalty.clerk"
    label = "clerk"
    verbose_name = "Clerk screen"
