"""Per-key rate limit: a fixed one-minute window counted in the cache (Redis when configured).

`cache.add` + `cache.incr` are atomic on Redis, so concurrent workers share one count; two
commands per keyed request. Staff users are not limited here.
"""

import time
from typing import Any

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from loyalty.integrations.permissions import api_client_of

WINDOW_SECONDS = 60


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        client = api_client_of(request)
        if client is None:
            return True
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        # the random prefix, not the pk: ids restart with a fresh database, prefixes do not
        key = f"integrations:rate:{client.prefix}:{window}"
        cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
            count = 1
        if count <= client.rate_limit_per_minute:
            return True
        self._wait = (window + 1) * WINDOW_SECONDS - now
        return False

    def wait(self) -> float | None:
        return self._wait
