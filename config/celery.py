"""The Celery application. Eager (in-process) unless CELERY_BROKER_URL points at a broker."""

import os

from celery import Celery

from config.env import settings_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module())

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
