"""Shared pieces of the hardening suite: run figures collected by the tests, printed at the end.

Each test that produces a figure for docs/reliability.md adds to FIGURES; the terminal summary
prints them so a CI log shows what was fuzzed, generated and injected in that run.
"""

from collections import Counter
from typing import Any

FIGURES: Counter[str] = Counter()
FUZZED_OPERATIONS: set[str] = set()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES and not FUZZED_OPERATIONS:
        return
    terminalreporter.section("reliability figures (docs/reliability.md)")
    if FUZZED_OPERATIONS:
        terminalreporter.write_line(f"api operations fuzzed: {len(FUZZED_OPERATIONS)}")
    for name, value in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{name}: {value}")
