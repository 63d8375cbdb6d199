import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories.integrations import ApiClientFactory
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory


@pytest.fixture
def programme(db: Any) -> Any:
    return ProgrammeSettingsFactory()


@pytest.fixture
def member(db: Any) -> Any:
    return MemberFactory()


def key_client(api_client: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_client.raw_key}")
    return client


@pytest.fixture
def make_key_client(db: Any) -> Any:
    """make_key_client(scopes=[...], store=..., channel=...) -> (APIClient, ApiClient)."""

    def make(**kwargs: Any) -> tuple[APIClient, Any]:
        api_client = ApiClientFactory(**kwargs)
        return key_client(api_client), api_client

    return make


class Receiver:
    """A real HTTP endpoint on 127.0.0.1: answers the scripted statuses in turn (then 200)
    and records every request it got (headers and raw body)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": body, "answered": status}
                )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/loyalty"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def delivered(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if 200 <= r["answered"] < 300]


@pytest.fixture
def receiver() -> Iterator[Any]:
    made: list[Receiver] = []

    def start(statuses: list[int] | None = None) -> Receiver:
        instance = Receiver(statuses or [])
        instance.thread.start()
        made.append(instance)
        return instance

    yield start
    for instance in made:
        instance.server.shutdown()
        instance.server.server_close()
