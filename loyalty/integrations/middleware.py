"""Logs every API request made with a key: key, method, route, status, latency (one INSERT)."""

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from loyalty.integrations.services import api_request_log_write

logger = logging.getLogger(__name__)


class ApiRequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        # set by ApiKeyAuthentication once it has found the key (also when it then refuses it)
        client_id = getattr(request, "api_client_id", None)
        if client_id is not None:
            match = request.resolver_match
            try:
                api_request_log_write(
                    client_id=client_id,
                    method=request.method or "",
                    route=match.route if match else "",
                    path=request.path,
                    status_code=response.status_code,
                    latency_ms=round((time.perf_counter() - started) * 1000),
                )
            except Exception:  # the log must never turn an answered request into an error
                logger.exception("could not write the API request log")
        return response
