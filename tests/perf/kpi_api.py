"""Read-only timing of KPI endpoints through their DRF views on the bench database (no write:
the suite's tests/perf/kpi.py logs a user in and backfills snapshots, this does neither):
`DATABASE_URL=... uv run --frozen python tests/perf/kpi_api.py REPEATS kpi [kpi ...]`.

Each call goes through the view as the API serves it (DRF authentication forced to an unsaved
superuser, filter serializer, `kpi_compute` inside analytics_reads(), response serializer,
JSON rendering), not through the middleware; the period is the suite's: the 30 local days up
to the newest transaction. Prints one line per KPI: median and every call's seconds."""

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
import django

django.setup()
from django.contrib.auth import get_user_model  # noqa: E402
from django.db.models import Max  # noqa: E402
from rest_framework.test import APIRequestFactory, force_authenticate  # noqa: E402

from analytics.api.views import VIEWS  # noqa: E402
from analytics.selectors.common import programme_zone  # noqa: E402
from loyalty.ledger.models import Transaction  # noqa: E402

repeats = int(sys.argv[1])
zone = programme_zone()
newest = Transaction.objects.aggregate(t=Max("occurred_at"))["t"]
date_to = newest.astimezone(zone).date()
params = {"from": (date_to - timedelta(days=29)).isoformat(), "to": date_to.isoformat()}
user = get_user_model()(username="bench-readonly", is_staff=True, is_superuser=True)
factory = APIRequestFactory()
for name in sys.argv[2:]:
    view = VIEWS[name][0].as_view()
    seconds = []
    for _ in range(repeats):
        request = factory.get(f"/api/v1/analytics/{name}/", params)
        force_authenticate(request, user=user)
        began = time.perf_counter()
        response = view(request)
        response.render()
        seconds.append(time.perf_counter() - began)
        assert response.status_code == 200, (name, response.status_code, response.content[:300])
    print(
        f"api {name} {params['from']}..{params['to']}: median {statistics.median(seconds):.2f} s"
        f" ({', '.join(f'{s:.2f}' for s in seconds)})",
        flush=True,
    )
