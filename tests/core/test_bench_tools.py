"""`make bench` needs nothing by hand: tests/perf/run.py installs its missing programs from
Debian's packages when it runs as root, and otherwise stops with one line naming the command.
The suite itself is never run here (tests/perf is not collected); only its tool check is."""

import importlib.util
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / "perf" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run_under_test", RUN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeSystem:
    """PATH and apt-get: `installed` programs are found; apt-get install adds the programs of
    the packages it is given (after `apt-get update` when `needs_update`)."""

    def __init__(self, installed, provides, *, needs_update=False, has_apt=True):
        self.installed = set(installed) | ({"apt-get"} if has_apt else set())
        self.provides = provides
        self.needs_update = needs_update
        self.commands = []

    def which(self, name):
        return f"/usr/bin/{name}" if name in self.installed else None

    def execute(self, argv):
        self.commands.append(argv)
        if argv[:2] == ["apt-get", "update"]:
            self.needs_update = False
            return 0
        if self.needs_update:
            return 100
        for package in argv[3:]:
            self.installed |= {tool for tool, pkg in self.provides.items() if pkg == package}
        return 0


def test_nothing_to_do_when_every_tool_is_there(bench):
    system = FakeSystem(bench.TOOLS, bench.TOOLS)
    assert (
        bench.ensure_tools(bench.TOOLS, which=system.which, is_root=True, execute=system.execute)
        is None
    )
    assert system.commands == []


def test_root_installs_wrk_from_debian(bench):
    system = FakeSystem({"pgbench", "psql", "createdb"}, bench.TOOLS)
    problem = bench.ensure_tools(
        bench.TOOLS, which=system.which, is_root=True, execute=system.execute
    )
    assert problem is None
    assert system.commands == [["apt-get", "install", "-y", "--no-install-recommends", "wrk"]]
    assert system.which("wrk")


def test_root_refreshes_package_lists_when_the_install_fails(bench):
    system = FakeSystem(set(), bench.TOOLS, needs_update=True)
    problem = bench.ensure_tools(
        bench.TOOLS, which=system.which, is_root=True, execute=system.execute
    )
    assert problem is None
    install = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql-client", "wrk"]
    assert system.commands == [install, ["apt-get", "update", "-qq"], install]


def test_pgbouncer_for_a_section_that_needs_it(bench):
    system = FakeSystem(bench.TOOLS, {**bench.TOOLS, "pgbouncer": "pgbouncer"})
    assert (
        bench.ensure_tools(
            {"pgbouncer": "pgbouncer"}, which=system.which, is_root=True, execute=system.execute
        )
        is None
    )
    assert system.which("pgbouncer")


def test_not_root_gets_one_line_with_the_command(bench):
    system = FakeSystem({"pgbench", "psql", "createdb"}, bench.TOOLS)
    problem = bench.ensure_tools(
        bench.TOOLS, which=system.which, is_root=False, execute=system.execute
    )
    assert system.commands == []  # nothing attempted without root
    assert "\n" not in problem
    assert problem.startswith("wrk missing")
    assert "sudo apt-get install -y wrk" in problem


def test_a_failed_install_is_reported_not_hidden(bench):
    system = FakeSystem({"pgbench", "psql", "createdb"}, {})  # apt-get finds no such package
    problem = bench.ensure_tools(
        bench.TOOLS, which=system.which, is_root=True, execute=system.execute
    )
    assert problem is not None and "apt-get install -y wrk" in problem


def test_no_apt_get_means_the_instruction(bench):
    system = FakeSystem({"pgbench", "psql", "createdb"}, bench.TOOLS, has_apt=False)
    problem = bench.ensure_tools(
        bench.TOOLS, which=system.which, is_root=True, execute=system.execute
    )
    assert system.commands == []
    assert "wrk missing" in problem
