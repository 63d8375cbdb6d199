from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BenchConfig(AppConfig):
    """The benchmark data generator: a client of every app, so it sits at the top of the layers."""

    name = "loyalty.bench"
    label = "bench"
    verbose_name = _("Benchmark data")
