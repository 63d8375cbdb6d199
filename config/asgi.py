import os

from django.core.asgi import get_asgi_application

from config.env import settings_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module())

application = get_asgi_application()

# web processes only: a statement timeout below the worker timeout (docs/reliability.md)
from loyalty.core.db import web_statement_timeout_install  # noqa: E402

web_statement_timeout_install()
