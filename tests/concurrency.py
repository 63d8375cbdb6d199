"""Run the same work in several threads at once (PostgreSQL race tests)."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def run_threads(count: int, work: Callable[[int], Any]) -> list[tuple[str, Any]]:
    """Start `count` threads together; each gets its own connection, closed at the end.

    Returns ("ok", value) or ("error", exception) per thread, for the test to assert on.
    """
    barrier = threading.Barrier(count)
    outcomes: list = [None] * count

    def target(index: int) -> None:
        try:
            barrier.wait()
            outcomes[index] = ("ok", work(index))
        except Exception as exc:  # collected and asserted on by the test
            outcomes[index] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes
