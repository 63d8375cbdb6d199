"""The benchmark suite (`make bench`, `make bench BENCH_ARGS=--quick`). PostgreSQL only.

Every figure is reported next to a ceiling measured in the same run on the same server (pgbench
TPC-B and select-only, a plain COPY of the same member file), because absolute times on a shared
2-core machine drift. Steps:

  1. fresh databases: loyalty_bench (the suite), loyalty_bench_pgbench (pgbench's scratch),
     loyalty_bench_retail (the real-dataset import);
  2. generate_benchmark_data (quick: 100k members / 1M purchases; full: 1M / 10M);
  3. ceilings: pgbench -c 2 -j 2 (TPC-B) and pgbench -S -c 2 -j 2, median of --repeats runs;
  4. sections (SECTIONS below; add one by appending a function): earn through the API under
     gunicorn with wrk, clerk lookup, member import, real-dataset transaction import, nightly
     jobs, KPI/dashboard, batch purchases (wrk posting batches of BENCH_BATCH, default 200);
  5. a table printed, written to var/bench/<mode>.md and into docs/performance.md between the
     markers of the mode.

A section that cannot run (no data, app not built yet, tool missing) says so in the table; a
section that fails reports the error and the suite goes on.
"""

import argparse
import csv
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
# BENCH_DB names the suite's databases, so that two runs on one server don't share data.
DB = os.environ.get("BENCH_DB", "loyalty_bench")
PGBENCH_DB, RETAIL_DB = f"{DB}_pgbench", f"{DB}_retail"
RETAIL_FILE = ROOT.parent / "shared" / "data" / "online_retail.csv.gz"
UV = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")


# The programs the suite runs, each with the Debian package that provides it. A section that
# needs another one (pgbouncer for the scaling runs) calls ensure_tools({"pgbouncer": "pgbouncer"}).
TOOLS = {
    "pgbench": "postgresql-client",
    "psql": "postgresql-client",
    "createdb": "postgresql-client",
    "wrk": "wrk",
}


def ensure_tools(
    tools: dict[str, str],
    *,
    which=shutil.which,
    is_root: bool | None = None,
    execute=None,
) -> str | None:
    """Install the missing programs of `tools` (name -> Debian package) with apt-get when running
    as root on a system that has apt-get; return None when every program is then on PATH, else one
    line saying what is missing and the command that installs it. `which`, `is_root` and
    `execute` (runs an argv list, returns its exit status) are parameters for the tests."""
    missing = [tool for tool in tools if which(tool) is None]
    if not missing:
        return None
    packages = sorted({tools[tool] for tool in missing})
    install = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if is_root is None:
        is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if execute is None:

        def execute(argv: list[str]) -> int:
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            return subprocess.run(argv, env=env, check=False).returncode

    if is_root and which("apt-get") is not None:
        print(f"installing {', '.join(packages)} (Debian packages) for the benchmark ...")
        if execute(install) != 0:  # a fresh image has no package lists yet
            execute(["apt-get", "update", "-qq"])
            execute(install)
        missing = [tool for tool in missing if which(tool) is None]
        if not missing:
            return None
    return (
        f"{', '.join(missing)} missing: install with `sudo apt-get install -y {' '.join(packages)}`"
        " (Debian/Ubuntu; elsewhere your system's package) and run `make bench` again"
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PORT = int(os.environ.get("BENCH_PORT") or free_port())  # never a port another server holds
PERF = Path(__file__).resolve().parent


@dataclass
class Row:
    section: str
    measure: str
    value: str
    ceiling: str = ""
    ratio: str = ""
    target: str = ""
    status: str = ""  # met / not met / not run / not built yet / failed


@dataclass
class Bench:
    quick: bool
    members: int
    transactions: int
    duration: int
    repeats: int
    rows: list[Row] = field(default_factory=list)
    ceilings: dict[str, float] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step of the suite

    def add(self, *args: str, **kwargs: str) -> None:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        print(f"  {row.section} | {row.measure}: {row.value} {row.ratio} {row.status}", flush=True)


# ------------------------------------------------------------------------------------ helpers
def url(db: str) -> str:
    return f"{SERVER}/{db}"


def env_for(db: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url(db),
        DEBUG="False",
        DJANGO_SETTINGS_MODULE="config.settings.local",
        CONN_MAX_AGE="600",
        LOG_LEVEL="ERROR",
    )
    return env


def run(
    cmd: list[str], *, env: dict | None = None, log: Bench | None = None, input: bytes | None = None
) -> tuple[float, str]:
    if log is not None:
        log.commands.append(" ".join(cmd))
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, input=input)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed: {done.stderr.decode()[-800:]}")
    return seconds, done.stdout.decode()


def manage(db: str, *args: str, bench: Bench | None = None) -> tuple[float, str]:
    return run([UV, "run", "--frozen", "python", "manage.py", *args], env=env_for(db), log=bench)


def pg_args() -> list[str]:
    match = re.match(r"postgres(?:ql)?://(?:(\w+)@)?([\w.]+)(?::(\d+))?", SERVER)
    user, host, port = match.groups() if match else ("postgres", "127.0.0.1", "5432")
    return ["-h", host, "-p", port or "5432", "-U", user or "postgres"]


def fresh(db: str) -> None:
    subprocess.run(["dropdb", *pg_args(), "--if-exists", db], check=True, capture_output=True)
    subprocess.run(["createdb", *pg_args(), db], check=True, capture_output=True)


def psql(db: str, sql: str) -> str:
    done = subprocess.run(
        ["psql", *pg_args(), "-At", "-d", db, "-c", sql], check=True, capture_output=True
    )
    return done.stdout.decode().strip()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(value: float, unit: str = "") -> str:
    if value != value:  # nan
        return "-"
    if value >= 100:
        return f"{value:,.0f}{unit}"
    return f"{value:.2f}{unit}" if value < 10 else f"{value:.1f}{unit}"


# ---------------------------------------------------------------------------------- ceilings
def pgbench_tps(args: list[str], seconds: int) -> float:
    out = subprocess.run(
        ["pgbench", *pg_args(), "-n", "-c", "2", "-j", "2", "-T", str(seconds), *args, PGBENCH_DB],
        check=True,
        capture_output=True,
    ).stdout.decode()
    match = re.search(r"tps = ([\d.]+)", out)
    return float(match.group(1)) if match else float("nan")


def ceilings(b: Bench) -> None:
    fresh(PGBENCH_DB)
    subprocess.run(
        ["pgbench", *pg_args(), "-i", "-q", "-s", "10", PGBENCH_DB], check=True, capture_output=True
    )
    b.commands.append(f"pgbench -i -s 10 {PGBENCH_DB}")
    b.commands.append(f"pgbench -n -c 2 -j 2 -T {b.duration} [-S] {PGBENCH_DB}")
    b.ceilings["tpcb"] = median([pgbench_tps([], b.duration) for _ in range(b.repeats)])
    b.ceilings["select"] = median([pgbench_tps(["-S"], b.duration) for _ in range(b.repeats)])
    b.add("ceiling", "pgbench TPC-B, 2 clients (TPS)", fmt(b.ceilings["tpcb"]))
    b.add("ceiling", "pgbench -S select-only, 2 clients (TPS)", fmt(b.ceilings["select"]))


# ------------------------------------------------------------------------------- wrk + server
class Server:
    def __init__(self, db: str, workers: int | None = None, env: dict[str, str] | None = None):
        self.db = db
        self.workers = workers  # gunicorn processes (default BENCH_WORKERS or 5)
        self.env = env or {}  # on top of env_for(db): e.g. DATABASE_URL of a pooler
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self.proc = subprocess.Popen(
            [
                UV,
                "run",
                "--frozen",
                "gunicorn",
                "config.wsgi",
                # 2 cores: 2 x cores + 1 processes (gunicorn's rule), so a worker waiting on
                # the database or on a row lock (the hot member) does not idle a core. gthread
                # keeps wrk's 16 connections alive, as a till or a proxy's upstream pool does (a
                # sync worker closes each one). One thread each: the app is CPU-bound Python
                # and more threads only share the GIL (and, with threads, the first GETs of a
                # process race in drf-spectacular's lazy schema; see docs/performance.md).
                # Each worker keeps one persistent connection (CONN_MAX_AGE in env_for), so
                # there is no pool to wait on. BENCH_WORKERS / BENCH_THREADS to experiment.
                "-k",
                "gthread",
                "-w",
                str(self.workers or os.environ.get("BENCH_WORKERS", "5")),
                "--threads",
                os.environ.get("BENCH_THREADS", "1"),
                "--keep-alive",
                "30",
                "-b",
                f"127.0.0.1:{PORT}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env_for(self.db) | self.env,
            start_new_session=True,
        )
        for _ in range(120):
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited (port {PORT} taken?)")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=2)
                return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("gunicorn did not answer /healthz")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


def wrk(
    b: Bench,
    script: Path | None,
    path: str,
    extra_env: dict[str, str],
    connections: int = 16,
    duration: int | None = None,
) -> dict[str, float]:
    env = dict(os.environ, **extra_env)
    cmd = [
        "wrk",
        "-t",
        "2",
        "-c",
        str(connections),
        "-d",
        f"{duration or b.duration}s",
        "--latency",
        *(["-s", str(script)] if script else []),
        f"http://127.0.0.1:{PORT}{path}",
    ]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True).stdout.decode()

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": float(rps.group(1)) if rps else float("nan"),
        "p50": ms("50"),
        "p99": ms("99"),
        "errors": float(bad.group(1)) if bad else 0.0,
        "requests": float(total.group(1)) if total else 0.0,
    }


def wrk_median(
    b: Bench,
    script: Path | None,
    path: str,
    env: dict[str, str],
    connections: int = 16,
    duration: int | None = None,
) -> dict[str, float]:
    runs = [wrk(b, script, path, env, connections, duration) for _ in range(b.repeats)]
    command = (
        f"wrk -t 2 -c {connections} -d {duration or b.duration}s --latency "
        + (f"-s {script.relative_to(ROOT)} " if script else "")
        + f"http://127.0.0.1:{PORT}{path}"
    )
    if command not in b.commands:
        b.commands.append(command)
    return {k: median([r[k] for r in runs]) for k in runs[0]} | {
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
    }


_API_KEY: list[str] = []


def api_token(b: Bench) -> str:
    """The Authorization header of the suite's API client: a real Api-Key (loyalty/integrations)
    with the scopes earn and lookup need, so the suite pays what a till pays (key lookup and
    hash, scope check, rate-limit counter, request log). One key per run; its rate limit is set
    out of the way (the limit is a per-key policy, not a cost being measured)."""
    if not _API_KEY:
        _, out = manage(
            DB,
            "create_api_client",
            f"bench {int(time.time())}",
            "--scope",
            "transactions:write",
            "--scope",
            "members:read",
            "--rate",
            str(10**9),
        )
        _API_KEY.append("Api-Key " + out.strip().splitlines()[-1])
        b.notes.append(
            "The API is called with an Api-Key (loyalty/integrations: scopes transactions:write "
            "and members:read), and the request log is on, as in production."
        )
    return _API_KEY[0]


# ---------------------------------------------------------------------------------- sections
def section_earn(b: Bench) -> None:
    token = api_token(b)
    lo, hi = map(int, psql(DB, "SELECT min(id), max(id) FROM members_member").split("|"))
    hot = int(
        psql(DB, "SELECT member_id FROM ledger_pointsaccount ORDER BY lifetime_earned DESC LIMIT 1")
    )
    before = int(psql(DB, "SELECT count(*) FROM ledger_transaction"))
    common = {
        "BENCH_AUTH": token,
        "BENCH_LO": str(lo),
        "BENCH_HI": str(hi),
        "BENCH_RUN": str(int(time.time())),
    }
    with Server(DB):
        spread = wrk_median(b, PERF / "earn.lua", "/api/v1/ledger/purchases/", common)
        hot_run = wrk_median(
            b,
            PERF / "earn.lua",
            "/api/v1/ledger/purchases/",
            common | {"BENCH_HOT": str(hot), "BENCH_RUN": f"h{int(time.time())}"},
        )
    ratio = spread["rps"] / b.ceilings["tpcb"]
    b.add(
        "earn",
        f"POST purchase, spread over {hi - lo + 1:,} members (req/s)",
        fmt(spread["rps"]),
        fmt(b.ceilings["tpcb"]),
        f"{ratio:.2f} x",
        ">= 0.25 x TPC-B",
        "met" if ratio >= 0.25 else "not met",
    )
    b.add(
        "earn",
        "p50 / p99 latency, 16 connections (ms)",
        f"{fmt(spread['p50'])} / {fmt(spread['p99'])}",
        target="p99 <= 50 ms",
        status="met" if spread["p99"] <= 50 else "not met",
    )
    hot_ratio = hot_run["rps"] / spread["rps"] if spread["rps"] else float("nan")
    b.add(
        "earn",
        "POST purchase, one hot member (req/s)",
        fmt(hot_run["rps"]),
        fmt(spread["rps"]),
        f"{hot_ratio:.2f} x spread",
        ">= 0.8 x spread",
        "met" if hot_ratio >= 0.8 else "not met",
    )
    after = int(psql(DB, "SELECT count(*) FROM ledger_transaction"))
    ok = spread["requests"] + hot_run["requests"] - spread["errors"] - hot_run["errors"]
    _, rec = manage(DB, "reconcile_ledger")
    lost = "every account reconciles" not in rec
    in_flight = after - before - ok  # requests wrk stopped waiting for still commit
    bound = 16 * 2 * b.repeats
    b.add(
        "earn",
        "non-2xx / written - 2xx answers (in flight at stop, <= 16 per run) / reconcile",
        f"{int(spread['errors'] + hot_run['errors'])} / {int(in_flight)} / {'MISMATCH' if lost else 'ok'}",
        target="no lost update, no duplicate",
        status="met" if not lost and 0 <= in_flight <= bound else "not met",
    )
    b.notes.append(
        "earn: duplicates are impossible by the unique (channel, external_id) constraint; "
        "reconcile_ledger after the load proves no lost update (balance = entries = lots)."
    )


def section_lookup(b: Bench) -> None:
    token = api_token(b)
    sample = psql(
        DB,
        "SELECT member_number, phone, email, last_name FROM members_member TABLESAMPLE SYSTEM (1) LIMIT 2000",
    )
    rows = [line.split("|") for line in sample.splitlines()]
    kinds = {
        "card number": [r[0] for r in rows],
        "phone": [r[1] for r in rows],
        "e-mail": [r[2] for r in rows],
        "name prefix": [r[3][:4] for r in rows],
    }
    # 16 connections is the figure; when it misses p99, 4 connections (a realistic
    # number of tills per app server) is measured too, as extra rows. Runs of at most 5 s: a
    # lookup run holds over a thousand requests by then (enough for a p99), and eight figures
    # of three runs each at 10 s were four minutes of the full suite's 30.
    duration = min(b.duration, 5)
    with Server(DB):
        for connections in (16, 4):
            # The floor of the stack on this machine: the same server, middleware and DRF, no
            # authentication and one SELECT 1 (/healthz). No endpoint can beat it here; when
            # even it misses the p99 target, the target is out of reach of the machine, not of
            # the lookup.
            floor = wrk_median(b, None, "/healthz", {}, connections, duration)
            at = "" if connections == 16 else f", {connections} connections"
            b.add(
                "clerk lookup",
                f"floor: GET /healthz (middleware, DRF, SELECT 1){at}: p50 / p99 (ms), req/s",
                f"{fmt(floor['p50'])} / {fmt(floor['p99'])}, {fmt(floor['rps'])}",
                fmt(b.ceilings["select"]),
                f"{floor['rps'] / b.ceilings['select']:.3f} x -S",
                "(reference)",
                "",
            )
            missed = False
            for kind, queries in kinds.items():
                with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
                    handle.write("\n".join(urllib.parse.quote(q) for q in queries) + "\n")
                result = wrk_median(
                    b,
                    PERF / "lookup.lua",
                    "/api/v1/members/lookup/",
                    {"BENCH_AUTH": token, "BENCH_QUERIES": handle.name},
                    connections,
                    duration,
                )
                os.unlink(handle.name)
                ratio = result["rps"] / b.ceilings["select"]
                missed = missed or not result["p99"] <= 20
                at = "" if connections == 16 else f", {connections} connections"
                b.add(
                    "clerk lookup",
                    f"{kind}{at}: p50 / p99 (ms), req/s",
                    f"{fmt(result['p50'])} / {fmt(result['p99'])}, {fmt(result['rps'])}",
                    fmt(b.ceilings["select"]),
                    f"{ratio:.3f} x -S",
                    "p99 <= 20 ms" if connections == 16 else "(extra row)",
                    "met" if result["p99"] <= 20 else "not met",
                )
                if result["errors"]:
                    b.notes.append(f"lookup {kind}{at}: {int(result['errors'])} non-2xx answers")
            if not missed:
                break


def member_file(path: Path, rows: int, offset: int) -> None:
    sys.path.insert(0, str(ROOT))
    from members.identifiers import luhn_check_digit

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["member_number", "first_name", "last_name", "email", "phone", "city", "country"]
        )
        for i in range(offset, offset + rows):
            payload = f"9{i:08d}"
            writer.writerow(
                [
                    payload + luhn_check_digit(payload),
                    "Ann",
                    f"Import{i}",
                    f"import{i}@example.com",
                    f"+4478{i:08d}",
                    "Leeds",
                    "GB",
                ]
            )


def copy_ceiling(path: Path) -> float:
    import psycopg

    columns = "member_number, first_name, last_name, email, phone, city, country"
    with psycopg.connect(url(DB)) as conn:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = "
                "'members_member' AND is_nullable = 'NO' AND is_identity = 'NO' AND column_default IS NULL AND column_name <> ALL(%s)",
                [[c.strip() for c in columns.split(",")]],
            )
            defaults = {
                name: (
                    "substr(md5(random()::text), 1, 12)"
                    if name == "referral_code"
                    else "'import'"
                    if name == "enrolment_channel"
                    else "'active'"
                    if name == "status"
                    else "now()"
                    if "time" in kind
                    else "'[]'"
                    if kind == "jsonb"
                    else "''"
                )
                for name, kind in cur.fetchall()
            }
            for name, expr in defaults.items():
                cur.execute(f"ALTER TABLE members_member ALTER COLUMN {name} SET DEFAULT {expr}")
            started = time.perf_counter()
            with (
                cur.copy(
                    f"COPY members_member ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)"
                ) as copy,
                path.open("rb") as handle,
            ):
                while block := handle.read(1 << 20):
                    copy.write(block)
            seconds = time.perf_counter() - started
        conn.rollback()  # the ceiling leaves nothing behind
    return seconds


def drop_imported_members() -> None:
    """Remove what the import sections wrote (their rows are recognisable by name and e-mail),
    so that each run, also with --reuse, imports into the generated data only."""
    imported = (
        "SELECT id FROM members_member WHERE last_name LIKE 'Import%' "
        "AND email LIKE 'import%@example.com'"
    )
    psql(
        DB,
        f"BEGIN; DELETE FROM members_consent WHERE member_id IN ({imported}); "
        f"DELETE FROM members_historicalmember WHERE id IN ({imported}); "
        f"DELETE FROM members_member WHERE id IN ({imported}); COMMIT",
    )
    psql(DB, "VACUUM ANALYZE members_member")


def section_member_import(b: Bench) -> None:
    sizes = [100_000] if b.quick else [100_000, 1_000_000]
    drop_imported_members()
    for n, offset in zip(sizes, (0, 10_000_000), strict=False):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"members-{n}.csv"
            member_file(path, n, offset)
            ceiling = median([copy_ceiling(path) for _ in range(b.repeats)])
            fresh_s, out = manage(DB, "import_members", str(path), bench=b)
            again_s, again = manage(DB, "import_members", str(path), bench=b)
        copy_rate, fresh_rate, again_rate = n / ceiling, n / fresh_s, n / again_s
        counts = f"{n} rows: {n} new"
        b.add(
            "member import",
            f"{n:,} rows, fresh (rows/s)",
            fmt(fresh_rate),
            fmt(copy_rate) + " (COPY)",
            f"{fresh_rate / copy_rate:.3f} x",
            ">= 0.15 x COPY",
            ("met" if fresh_rate / copy_rate >= 0.15 else "not met")
            if counts in out
            else f"failed: {out.strip()[-200:]}",
        )
        b.add(
            "member import",
            f"{n:,} rows, re-import unchanged (rows/s)",
            fmt(again_rate),
            fmt(fresh_rate) + " (fresh)",
            f"{again_rate / fresh_rate:.2f} x",
            ">= 1 x fresh",
            ("met" if again_rate >= fresh_rate else "not met")
            if f"{n} unchanged" in again
            else f"failed: {again.strip()[-200:]}",
        )
    b.notes.append(
        "member import: wall time of `manage.py import_members FILE` (process start included); "
        "COPY ceiling: the same file COPYed into members_member (rolled back), median of "
        f"{b.repeats}; the imported rows are deleted again after the section."
    )
    try:
        section_admin_import(b)
    finally:
        drop_imported_members()


def section_admin_import(b: Bench) -> None:
    """django-import-export: our MemberResource vs a ModelResource with the library's default
    options, same 10,000-row file, resource.import_data(dataset, dry_run=False), rolled back."""
    n = 10_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "admin-members.csv"
        member_file(path, n, 20_000_000)
        _, out = run(
            [
                UV,
                "run",
                "--frozen",
                "python",
                str(PERF / "admin_import.py"),
                str(path),
                str(b.repeats),
            ],
            env=env_for(DB),
            log=b,
        )
    data = json.loads(out.strip().splitlines()[-1])
    default, ours = data["default"], data["ours"]
    ratio = default["seconds"] / ours["seconds"]
    complete = all(
        r["totals"].get("new") == n and not r["totals"].get("failed") for r in (default, ours)
    )
    b.add(
        "admin import",
        f"{n:,} rows, MemberResource.import_data (rows/s)",
        fmt(n / ours["seconds"]),
        fmt(n / default["seconds"]) + " (import-export defaults)",
        f"{ratio:.1f} x",
        ">= 10 x defaults",
        ("met" if ratio >= 10 else "not met") if complete else f"failed: {json.dumps(data)[:200]}",
    )
    b.notes.append(
        "admin import: tests/perf/admin_import.py, median of "
        f"{b.repeats} runs each; 'defaults' is a ModelResource with import_id_fields = "
        "member_number and nothing else changed (per-row lookup, diff, savepoint and save)."
    )


def section_retail(b: Bench) -> None:
    if not RETAIL_FILE.is_file():
        b.add("transaction import", "real dataset", "-", status="not run", target="< 60 s")
        b.notes.append(f"{RETAIL_FILE} is absent: the real-dataset import was skipped.")
        return

    def step(label: str, *args: str) -> tuple[float, str]:
        """One command of the section; a failure names the step and keeps the END of stderr
        (the exception line), not the top of the traceback, which the table used to show."""
        try:
            return manage(RETAIL_DB, *args, bench=b)
        except RuntimeError as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            tail = " / ".join(lines[-3:])[-400:].replace("|", "\\|")
            raise SectionFailed(f"{label}: {tail}") from exc

    try:
        fresh(RETAIL_DB)
        step("migrate", "migrate", "--noinput")
        importing = ("import_transactions", str(RETAIL_FILE), "--format", "online-retail")
        first, out = step("first import", *importing)
        again, _ = step("second import", *importing)
        _, rec = step("reconcile", "reconcile_ledger")
    except SectionFailed as exc:
        b.add("transaction import", "section failed", "-", target="< 60 s", status=f"failed: {exc}")
        return
    summary = next((line for line in out.splitlines() if " rows in " in line), "")
    b.add(
        "transaction import",
        "541,909 lines, end to end incl. points (s)",
        fmt(first),
        target="< 60 s",
        status="met" if first < 60 else "not met",
    )
    b.add(
        "transaction import",
        "second import of the same file (s)",
        fmt(again),
        status="",
    )
    b.add(
        "transaction import",
        "reconcile after both",
        "ok" if "every account reconciles" in rec else "MISMATCH",
    )
    b.notes.append(f"transaction import: {summary}")


class SectionFailed(Exception):
    """A step of a section failed; the message is already short and table-safe."""


def section_jobs(b: Bench) -> None:
    """Each repeat runs the jobs on a fresh copy of the generated database (createdb -T), so
    every run does the same work (the jobs change the data: a second run on the same rows
    would find nothing to expire) and DB itself stays as generated for the other sections."""
    work = f"{DB}_jobs"
    # the state a live database is in (autovacuum has set hint bits and the visibility map),
    # not fresh-from-COPY pages that the first job to read them would have to write back
    psql(DB, "VACUUM ANALYZE")
    b.commands.append(f"psql -d {DB} -c 'VACUUM ANALYZE'")
    runs = []
    copying = 0.0
    for _ in range(b.repeats):
        copy_started = time.perf_counter()
        subprocess.run(["dropdb", *pg_args(), "--if-exists", work], check=True, capture_output=True)
        subprocess.run(
            ["createdb", *pg_args(), "-T", DB, "-S", "file_copy", work],
            check=True,
            capture_output=True,
        )
        copying += time.perf_counter() - copy_started
        _, out = run(
            [UV, "run", "--frozen", "python", str(PERF / "jobs.py")], env=env_for(work), log=b
        )
        runs.append(json.loads(out.strip().splitlines()[-1]))
    subprocess.run(["dropdb", *pg_args(), "--if-exists", work], check=True, capture_output=True)
    b.commands.append(f"createdb -T {DB} -S file_copy {work}  # before each run of jobs.py")
    b.notes.append(f"nightly jobs: the {b.repeats} database copies took {copying:,.0f} s in all")
    entries = runs[0]["entries"]
    targets = {"expiry": 1_000_000, "tier period end": 1_000_000}
    for index, job in enumerate(runs[0]["jobs"]):
        name = job["job"]
        error = next((r["jobs"][index]["error"] for r in runs if r["jobs"][index]["error"]), "")
        seconds = median([r["jobs"][index]["seconds"] for r in runs])
        rate = entries / seconds if seconds else float("nan")
        target = targets.get(name)
        b.add(
            "nightly jobs",
            f"{name} on {entries:,} entries (s, rows/s; median of {len(runs)})",
            f"{fmt(seconds)}, {fmt(rate)}",
            target=f">= {target:,} rows/s" if target else "",
            status=("failed: " + error)
            if error
            else ("met" if rate >= target else "not met")
            if target
            else "",
        )
        b.notes.append(
            f"nightly jobs, {name}: "
            + ", ".join(f"{r['jobs'][index]['seconds']:.2f} s" for r in runs)
            + f"; outcome {job['outcome']}"
        )


def section_kpi(b: Bench) -> None:
    """tests/perf/kpi.py on the generated database: the snapshot job's rows/s (backfilling the
    newest 30 days), then each KPI endpoint and the dashboard (page and data), median of
    --repeats calls each, in-process (server time, no network)."""
    _, out = run(
        [UV, "run", "--frozen", "python", str(PERF / "kpi.py"), str(b.repeats)],
        env=env_for(DB),
        log=b,
    )
    result = json.loads(out.strip().splitlines()[-1])
    if "error" in result:
        b.add("dashboard / KPI", "KPI endpoints and dashboard", "-", status=result["error"])
        return
    seconds = result["snapshot_seconds"]
    rate = result["snapshot_rows"] / seconds if seconds else float("nan")
    b.add(
        "nightly jobs",
        f"KPI snapshot, {result['range'][0]}..{result['range'][1]} "
        f"({result['snapshot_rows']:,} rows; s, rows/s)",
        f"{fmt(seconds)}, {fmt(rate)}",
        target=">= 1,000,000 rows/s",
        status="met" if rate >= 1_000_000 else "not met",
    )
    for timing in result["timings"]:
        ok = timing["status"] == 200
        b.add(
            "dashboard / KPI",
            f"{timing['name']} (s, median of {b.repeats})",
            fmt(timing["seconds"]),
            target="< 1 s",
            status=("met" if timing["seconds"] < 1 else "not met")
            if ok
            else f"failed: HTTP {timing['status']}",
        )


CAMPAIGN_SETUP = """
from datetime import timedelta
from decimal import Decimal
from django.utils import timezone
from campaigns.models import Campaign, Segment, SegmentCondition
from campaigns.services import campaign_save, campaign_status_change

segment, made = Segment.objects.get_or_create(name="bench: 3+ purchases, none in 90 days")
if made:
    for field, op, value in (("purchase_count", "gte", "3"), ("last_purchase", "not_within", "90")):
        SegmentCondition.objects.create(segment=segment, field=field, operator=op, value=value)
spenders, made = Segment.objects.get_or_create(name="bench: spend 100+ in a year")
if made:
    SegmentCondition.objects.create(
        segment=spenders, field="spend", operator="gte", value="100", window_days=365
    )
now = timezone.now()
specs = [
    dict(name="bench x1.5", mechanic="multiplier", multiplier=Decimal("1.5"), segment=spenders),
    dict(name="bench bonus 50+", mechanic="fixed_bonus", bonus_points=50,
         min_spend=Decimal("50"), segment=spenders, points_budget=10**12),
    dict(name="bench 3rd purchase", mechanic="nth_purchase", bonus_points=30, purchase_number=3,
         segment=segment),
]
LAUNCH = "LAUNCH" == "yes"
run_id = "RUN_ID"
for spec in specs:
    spec["name"] = f"{spec['name']} {run_id}"
    campaign = Campaign.objects.filter(name=spec["name"]).first()
    if campaign is None:
        campaign = campaign_save(campaign=Campaign(
            starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(days=1),
            holdout_percent=10, **spec))
    if LAUNCH and campaign.status == "draft":
        campaign_status_change(campaign=campaign, to_status="active", reason="bench")
print(segment.name)
"""

CAMPAIGN_TEARDOWN = """
from campaigns.models import Campaign
from campaigns.services import campaign_status_change
for campaign in Campaign.objects.filter(name__startswith="bench ", status="active"):
    campaign_status_change(campaign=campaign, to_status="ended", reason="bench done")
"""


def section_campaigns(b: Bench) -> None:
    """Segment count on the generated members (one SQL query; the command times it), and earn
    throughput with three active campaigns (multiplier, fixed bonus, Nth purchase; audiences
    fixed at launch) as a ratio of the same earn run with none."""
    token = api_token(b)
    run_id = str(int(time.time()))
    setup = CAMPAIGN_SETUP.replace("RUN_ID", run_id)
    _, out = manage(DB, "shell", "-c", setup, bench=b)
    name = out.strip().splitlines()[-1]
    members = int(psql(DB, "SELECT count(*) FROM members_member"))
    times = []
    for _ in range(b.repeats):
        _, counted = manage(DB, "segment_count", name, bench=b)
        match = re.search(r": (\d+) members \(([\d.]+) s\)", counted)
        times.append(float(match.group(2)) if match else float("nan"))
        found = match.group(1) if match else "?"
    b.add(
        "campaigns",
        f"segment count '{name}' over {members:,} members (s, {found} found)",
        fmt(median(times)),
        target="< 1 s",
        status="met" if median(times) < 1 else "not met",
    )
    lo, hi = map(int, psql(DB, "SELECT min(id), max(id) FROM members_member").split("|"))
    common = {"BENCH_AUTH": token, "BENCH_LO": str(lo), "BENCH_HI": str(hi)}
    with Server(DB):
        none = wrk_median(
            b,
            PERF / "earn.lua",
            "/api/v1/ledger/purchases/",
            common | {"BENCH_RUN": f"c0{int(time.time())}"},
        )
    manage(DB, "shell", "-c", setup.replace('"LAUNCH" == "yes"', '"yes" == "yes"'), bench=b)
    try:
        with Server(DB):
            three = wrk_median(
                b,
                PERF / "earn.lua",
                "/api/v1/ledger/purchases/",
                common | {"BENCH_RUN": f"c3{int(time.time())}"},
            )
    finally:
        manage(DB, "shell", "-c", CAMPAIGN_TEARDOWN, bench=b)
    ratio = three["rps"] / none["rps"] if none["rps"] else float("nan")
    b.add(
        "campaigns",
        "POST purchase with 3 active campaigns (req/s)",
        fmt(three["rps"]),
        fmt(none["rps"]),
        f"{ratio:.2f} x none",
        ">= 0.8 x none",
        "met" if ratio >= 0.8 else "not met",
    )


ENGAGEMENT_RULE_CODES = ("first", "ten", "streak3", "reviews2", "referrals1")
ENGAGEMENT_SETUP = """
from campaigns.engagement.models import BadgeRule
for code, kind, threshold, repeatable in (
    ("first", "first_purchase", 1, False),
    ("ten", "purchases", 10, True),
    ("streak3", "streak", 3, False),
    ("reviews2", "reviews", 2, False),
    ("referrals1", "referrals", 1, False),
):
    BadgeRule.objects.update_or_create(
        code=code,
        defaults={"name": code, "kind": kind, "threshold": threshold, "repeatable": repeatable},
    )
"""


ENGAGEMENT_TABLES = (
    "engagement_memberbadge, engagement_memberstage, engagement_stagechange, "
    "engagement_memberstreak, engagement_stagecount, engagement_vipofmonth"
)
ENGAGEMENT_STEPS = ("streaks", "stages", "badges", "counts", "vip")


def section_engagement(b: Bench) -> None:
    """The engagement nightly job (streaks in SQL, lifecycle stages in SQL, the badge catch-up
    with five rules, members per stage, VIP of the month) on a copy of the generated database:
    the first run (every badge and stage is new) and a second run (steady state: nothing new),
    members per second for the whole job and for each step, and purchases per second for the
    streak step.

    BENCH_ENGAGEMENT_IN_PLACE=1 runs it on BENCH_DB itself instead of a 12 GB copy: the
    engagement tables are emptied before (a true first run) and after, and the five rules
    deleted after, so the generated data is left as it was (the generator writes no engagement
    rows)."""
    in_place = os.environ.get("BENCH_ENGAGEMENT_IN_PLACE") == "1"
    work = DB if in_place else f"{DB}_engagement"

    def clear() -> None:
        psql(work, f"TRUNCATE {ENGAGEMENT_TABLES}")

    if in_place:
        clear()
        b.commands.append(f"TRUNCATE {ENGAGEMENT_TABLES}  # {work}, engagement section in place")
    else:
        subprocess.run(["dropdb", *pg_args(), "--if-exists", work], check=True, capture_output=True)
        subprocess.run(
            ["createdb", *pg_args(), "-T", DB, "-S", "file_copy", work],
            check=True,
            capture_output=True,
        )
        b.commands.append(f"createdb -T {DB} -S file_copy {work}  # engagement section")
    try:
        manage(work, "shell", "-c", ENGAGEMENT_SETUP, bench=b)
        purchases = int(
            psql(work, "SELECT count(*) FROM ledger_transaction WHERE kind = 'purchase'")
        )
        for label in ("first run", "second run"):
            load = os.getloadavg()[0]
            _, out = manage(work, "engagement_nightly", "--json", bench=b)
            result = json.loads(out.strip().splitlines()[-1])
            seconds = sum(result["seconds"].values())
            members = result["members"]
            b.add(
                "engagement nightly",
                f"{label}: {members:,} members, {purchases:,} purchases (s, members/s)",
                f"{fmt(seconds)}, {fmt(members / seconds if seconds else float('nan'))}",
            )
            for step in ENGAGEMENT_STEPS:
                step_seconds = result["seconds"].get(step) or float("nan")
                # a step under 10 ms (the VIP already picked) has no meaningful rate
                rate = members / step_seconds if step_seconds >= 0.01 else float("nan")
                b.add(
                    "engagement nightly",
                    f"{label}, {step} step (s, members/s)",
                    f"{fmt(step_seconds)}, {fmt(rate)}",
                )
            streaks = result["seconds"].get("streaks") or float("nan")
            b.notes.append(
                f"engagement nightly, {label} (load average before {load:.2f}): "
                + ", ".join(f"{k} {v:.1f} s" for k, v in result["seconds"].items())
                + f"; streak step {purchases / streaks:,.0f} purchases/s; "
                + f"{result['badges_awarded']:,} badges, {result['stages_changed']:,} stage changes"
            )
    finally:
        if in_place:
            clear()
            codes = ", ".join(f"'{code}'" for code in ENGAGEMENT_RULE_CODES)
            psql(work, f"DELETE FROM engagement_badgerule WHERE code IN ({codes})")
        else:
            subprocess.run(
                ["dropdb", *pg_args(), "--if-exists", work], check=True, capture_output=True
            )


BATCH_SIZE = int(os.environ.get("BENCH_BATCH", "200"))
BATCH_CONNECTIONS = 4


def batch_created(b: Bench, env: dict[str, str]) -> tuple[float, dict[str, float]]:
    """One wrk run of tests/perf/batch.lua: purchases created per second (from the answers'
    `created` counts over wrk's own elapsed time) and wrk's request figures."""
    cmd = [
        "wrk",
        "-t",
        "2",
        "-c",
        str(BATCH_CONNECTIONS),
        "-d",
        f"{b.duration}s",
        "--latency",
        "--timeout",
        "30s",
        "-s",
        str(PERF / "batch.lua"),
        f"http://127.0.0.1:{PORT}/api/v1/ledger/purchases/batch/",
    ]
    out = subprocess.run(cmd, env=dict(os.environ, **env), check=True, capture_output=True)
    text = out.stdout.decode()
    match = re.search(r"^created (\d+) in (\d+)$", text, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    figures = {
        "rps": float(rps.group(1)) if rps else float("nan"),
        "errors": float(bad.group(1)) if bad else 0.0,
        "p99": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
        "created": float(match.group(1)) if match else 0.0,
    }
    per_second = int(match.group(1)) / (int(match.group(2)) / 1e6) if match else float("nan")
    return per_second, figures


def section_batch(b: Bench) -> None:
    """Purchases per second through the batch endpoint (batches of BENCH_BATCH fresh purchases,
    4 connections), against pgbench TPC-B in the same run (issue #22: >= 1.0 x)."""
    token = api_token(b)
    lo, hi = map(int, psql(DB, "SELECT min(id), max(id) FROM members_member").split("|"))
    _, mode = manage(
        DB,
        "shell",
        "-c",
        "from loyalty.ledger.batch import batch_blockers; print(batch_blockers() or 'set-based')",
    )
    before = int(psql(DB, "SELECT count(*) FROM ledger_transaction"))
    env = {
        "BENCH_AUTH": token,
        "BENCH_LO": str(lo),
        "BENCH_HI": str(hi),
        "BENCH_BATCH": str(BATCH_SIZE),
    }
    runs = []
    with Server(DB):
        for n in range(b.repeats):
            runs.append(batch_created(b, env | {"BENCH_RUN": f"x{n}{int(time.time())}"}))
    command = (
        f"BENCH_BATCH={BATCH_SIZE} wrk -t 2 -c {BATCH_CONNECTIONS} -d {b.duration}s --latency "
        f"--timeout 30s -s tests/perf/batch.lua http://127.0.0.1:{PORT}/api/v1/ledger/purchases/batch/"
    )
    b.commands.append(command)
    per_second = median([r[0] for r in runs])
    ratio = per_second / b.ceilings["tpcb"]
    b.add(
        "batch",
        f"POST batches of {BATCH_SIZE} purchases, {hi - lo + 1:,} members (purchases/s)",
        fmt(per_second),
        fmt(b.ceilings["tpcb"]),
        f"{ratio:.2f} x",
        ">= 1.0 x TPC-B",
        "met" if ratio >= 1.0 else "not met",
    )
    after = int(psql(DB, "SELECT count(*) FROM ledger_transaction"))
    created = sum(r[1]["created"] for r in runs)
    errors = sum(r[1]["errors"] for r in runs)
    _, rec = manage(DB, "reconcile_ledger")
    lost = "every account reconciles" not in rec
    b.add(
        "batch",
        "batches/s; p99 per batch (ms); non-2xx / written - created / reconcile",
        f"{fmt(median([r[1]['rps'] for r in runs]))}; {fmt(median([r[1]['p99'] for r in runs]))}"
        f"; {int(errors)} / {int(after - before - created)} / {'MISMATCH' if lost else 'ok'}",
        target="no lost update, no duplicate",
        status="met" if not lost and after - before >= created else "not met",
    )
    b.notes.append(
        f"batch: mode {mode.strip().splitlines()[-1] if mode.strip() else '?'} "
        "(loyalty/ledger/batch.py; a list means purchase by purchase, and why); "
        "written - created counts batches still committing when wrk stopped."
    )


class PgBouncer:
    """Debian's pgbouncer on a spare port in front of `db`, pool_mode = transaction, with a
    generated ini in a temporary directory (docs/scaling.md). `pool_size` server connections
    serve every client; the web settings it stands for (statement_timeout,
    client_connection_check_interval) are set by connect_query, since the app sets nothing on
    its session behind a pooler (DATABASE_POOLER)."""

    def __init__(self, db: str, pool_size: int = 4):
        self.db, self.pool_size = db, pool_size
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pgbouncer-"))
        self.proc: subprocess.Popen | None = None

    def ini(self) -> str:
        host, port, user = pg_args()[1], pg_args()[3], pg_args()[5]
        return "\n".join(
            [
                "[databases]",
                f"{self.db} = host={host} port={port} dbname={self.db} user={user} "
                "connect_query='SET statement_timeout = 20000; "
                "SET client_connection_check_interval = 5000'",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {self.port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {self.dir / 'users.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {self.pool_size}",
                "max_client_conn = 500",
                "ignore_startup_parameters = extra_float_digits",
                f"logfile = {self.dir / 'pgbouncer.log'}",
                f"pidfile = {self.dir / 'pgbouncer.pid'}",
                "",
            ]
        )

    def url(self) -> str:
        return f"postgres://{pg_args()[5]}@127.0.0.1:{self.port}/{self.db}"

    def __enter__(self) -> "PgBouncer":
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        (self.dir / "users.txt").write_text(f'"{pg_args()[5]}" ""\n')
        (self.dir / "pgbouncer.ini").write_text(self.ini())
        argv = [binary, str(self.dir / "pgbouncer.ini")]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # pgbouncer refuses to run as root
            self.dir.chmod(0o777)
            for path in self.dir.iterdir():
                path.chmod(0o666)
            argv = ["runuser", "-u", "postgres", "--", *argv]
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # its log is in the temporary directory
        )
        for _ in range(40):
            if self.proc.poll() is not None:
                log = self.dir / "pgbouncer.log"
                raise RuntimeError(
                    "pgbouncer exited: " + (log.read_text()[-500:] if log.exists() else "")
                )
            done = subprocess.run(
                [
                    *["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", pg_args()[5]],
                    *["-At", "-d", self.db, "-c", "SHOW statement_timeout"],
                ],
                capture_output=True,
            )
            if done.returncode == 0:
                return self
            time.sleep(0.25)
        raise RuntimeError("pgbouncer did not answer")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def section_scaling(b: Bench) -> None:
    """Earn (spread) and card lookup with 1, 2 and 4 gunicorn processes, straight to PostgreSQL
    and through PgBouncer (transaction pooling, 2 server connections, DATABASE_POOLER=pgbouncer
    in the app). 16 wrk connections each; the machine's cores bound the curve (4 processes
    oversubscribe 2 cores), the point is the shape and that the pooled runs work."""
    problem = ensure_tools(
        {"pgbouncer": "pgbouncer"},
        which=lambda name: (
            shutil.which(name)
            or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
        ),
    )
    if problem:
        b.add("scaling", "pgbouncer", "-", status=f"not run: {problem}")
        return
    token = api_token(b)
    lo, hi = map(int, psql(DB, "SELECT min(id), max(id) FROM members_member").split("|"))
    cards = psql(DB, "SELECT member_number FROM members_member TABLESAMPLE SYSTEM (1) LIMIT 2000")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(urllib.parse.quote(q) for q in cards.splitlines()) + "\n")
    duration = min(b.duration, 5)
    before = int(psql(DB, "SELECT count(*) FROM ledger_transaction"))
    answered = 0.0
    wal: list[tuple[int, int]] = []  # (WAL bytes, purchases written) of each earn run
    try:
        for pooled in (False, True):
            bouncer = PgBouncer(DB, pool_size=2) if pooled else None
            if bouncer is not None:
                bouncer.__enter__()
                b.commands.append(
                    "pgbouncer <generated ini: pool_mode = transaction, default_pool_size = 2, "
                    "connect_query sets statement_timeout and client_connection_check_interval>"
                )
            try:
                extra = (
                    {"DATABASE_URL": bouncer.url(), "DATABASE_POOLER": "pgbouncer"}
                    if bouncer
                    else {}
                )
                via = "PgBouncer (transaction, 2 server connections)" if pooled else "direct"
                for workers in (1, 2, 4):
                    with Server(DB, workers=workers, env=extra):
                        # warm every process first (not measured): a process's first lookup
                        # took 8 s on the loaded machine (lazy imports, first queries), longer
                        # than wrk's 2 s timeout, which made a 5 s run count no answer at all
                        for script, path, env in (
                            (
                                PERF / "earn.lua",
                                "/api/v1/ledger/purchases/",
                                {
                                    "BENCH_AUTH": token,
                                    "BENCH_LO": str(lo),
                                    "BENCH_HI": str(hi),
                                    "BENCH_RUN": f"w{workers}{int(pooled)}{int(time.time())}",
                                },
                            ),
                            (
                                PERF / "lookup.lua",
                                "/api/v1/members/lookup/",
                                {"BENCH_AUTH": token, "BENCH_QUERIES": handle.name},
                            ),
                        ):
                            warm = wrk(b, script, path, env, 2 * workers, 12)
                            answered += warm["requests"] - warm["errors"] if "earn" in path else 0
                        lsn = psql(DB, "SELECT pg_current_wal_lsn()")
                        count = int(psql(DB, "SELECT count(*) FROM ledger_transaction"))
                        earn = wrk_median(
                            b,
                            PERF / "earn.lua",
                            "/api/v1/ledger/purchases/",
                            {
                                "BENCH_AUTH": token,
                                "BENCH_LO": str(lo),
                                "BENCH_HI": str(hi),
                                "BENCH_RUN": f"s{workers}{int(pooled)}{int(time.time())}",
                            },
                            16,
                            duration,
                        )
                        wal.append(
                            (
                                int(
                                    psql(
                                        DB,
                                        f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{lsn}')",
                                    ).split(".")[0]
                                ),
                                int(psql(DB, "SELECT count(*) FROM ledger_transaction")) - count,
                            )
                        )
                        lookup = wrk_median(
                            b,
                            PERF / "lookup.lua",
                            "/api/v1/members/lookup/",
                            {"BENCH_AUTH": token, "BENCH_QUERIES": handle.name},
                            16,
                            duration,
                        )
                    answered += earn["requests"] - earn["errors"]
                    for name, result in (("earn", earn), ("card lookup", lookup)):
                        b.add(
                            "scaling",
                            f"{name}, {workers} process{'es' if workers > 1 else ''}, {via}: "
                            "req/s, p50 / p99 (ms), non-2xx",
                            f"{fmt(result['rps'])}, {fmt(result['p50'])} / "
                            f"{fmt(result['p99'])}, {int(result['errors'])}",
                            fmt(
                                b.ceilings.get("tpcb" if name == "earn" else "select", float("nan"))
                            ),
                            "",
                            "(curve)",
                            "" if not result["errors"] else "errors",
                        )
            finally:
                if bouncer is not None:
                    bouncer.__exit__()
    finally:
        os.unlink(handle.name)
    after = int(psql(DB, "SELECT count(*) FROM ledger_transaction"))
    _, rec = manage(DB, "reconcile_ledger")
    ok = "every account reconciles" in rec
    b.add(
        "scaling",
        "purchases written - 2xx answers / reconcile after every run",
        f"{int(after - before - answered)} / {'ok' if ok else 'MISMATCH'}",
        target="no lost update, no duplicate",
        status="met" if ok and 0 <= after - before - answered <= 16 * 12 * b.repeats else "not met",
    )
    written = sum(n for _, n in wal)
    b.add(
        "scaling",
        "WAL per purchase during the earn runs (bytes; the whole server's WAL, an upper bound)",
        fmt(sum(w for w, _ in wal) / written) if written else "-",
        target="(sizing)",
    )
    b.commands.append("gunicorn ... -w 1|2|4 (scaling), DATABASE_POOLER=pgbouncer behind PgBouncer")


SECTIONS = [
    ("earn", section_earn),
    ("lookup", section_lookup),
    ("member import", section_member_import),
    ("transaction import", section_retail),
    ("nightly jobs", section_jobs),
    ("kpi", section_kpi),
    ("campaigns", section_campaigns),
    ("engagement", section_engagement),
    ("batch", section_batch),
    ("scaling", section_scaling),
]


# ------------------------------------------------------------------------------------ report
def machine() -> str:
    mem = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "0",
    )
    pg = psql("postgres", "SHOW server_version")
    import django

    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"{int(mem) / 1024 / 1024:.0f} GiB RAM, PostgreSQL {pg}, Python {platform.python_version()}, "
        f"Django {django.get_version()}, load average before the run {os.getloadavg()[0]:.2f}"
    )


def table(b: Bench, started: datetime, seconds: float) -> str:
    mode = "quick" if b.quick else "full"
    lines = [
        f"<!-- bench:{mode}:start -->",
        f"### Last {mode} run: {started:%Y-%m-%d %H:%M} UTC ({seconds / 60:.1f} min)",
        "",
        f"Machine: {machine()}.",
        f"Data: {b.members:,} members, {b.transactions:,} purchases (generate_benchmark_data --seed 1); "
        f"each load figure is the median of {b.repeats} runs of {b.duration} s (lookups: "
        f"{min(b.duration, 5)} s).",
        "",
        "| section | measure | value | ceiling (same run) | ratio | target | status |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.section} | {r.measure} | {r.value} | {r.ceiling} | {r.ratio} | {r.target} | {r.status} |"
        for r in b.rows
    ]
    if b.notes:
        lines += ["", *[f"- {note}" for note in b.notes]]
    lines += [
        "",
        "Commands:",
        "",
        "```sh",
        f"make bench BENCH_ARGS={'--quick' if b.quick else ''}".rstrip("="),
        *dict.fromkeys(b.commands),
        "```",
        f"<!-- bench:{mode}:end -->",
    ]
    return "\n".join(lines) + "\n"


def write_docs(text: str, mode: str) -> None:
    path = ROOT / "docs" / "performance.md"
    doc = path.read_text() if path.exists() else "# Performance\n"
    start, end = f"<!-- bench:{mode}:start -->", f"<!-- bench:{mode}:end -->"
    if start in doc and end in doc:
        doc = doc[: doc.index(start)] + text + doc[doc.index(end) + len(end) + 1 :]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="100k members / 1M purchases, short runs"
    )
    parser.add_argument("--members", type=int)
    parser.add_argument("--transactions", type=int)
    parser.add_argument("--duration", type=int, help="seconds per load run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", help=f"sections: {', '.join(n for n, _ in SECTIONS)}")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the BENCH_DB database (default loyalty_bench) as it is (no regeneration)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/performance.md")
    args = parser.parse_args()
    problem = ensure_tools(TOOLS)
    if problem:
        sys.exit(problem)
    b = Bench(
        quick=args.quick,
        members=args.members or (100_000 if args.quick else 1_000_000),
        transactions=args.transactions or (1_000_000 if args.quick else 10_000_000),
        duration=args.duration or (5 if args.quick else 10),
        repeats=args.repeats,
    )
    started, t0 = datetime.now(tz=UTC), time.perf_counter()
    if not args.reuse:
        print(
            f"fresh {DB} and {b.members:,} members / {b.transactions:,} purchases ...", flush=True
        )
        step_started = time.perf_counter()
        fresh(DB)
        manage(DB, "migrate", "--noinput", bench=b)
        b.timings["fresh database and migrate"] = time.perf_counter() - step_started
        seconds, out = manage(
            DB,
            "generate_benchmark_data",
            "--members",
            str(b.members),
            "--transactions",
            str(b.transactions),
            "--seed",
            "1",
            bench=b,
        )
        b.timings["data"] = seconds
        entries = int(psql(DB, "SELECT count(*) FROM ledger_ledgerentry"))
        b.add(
            "data",
            "generate_benchmark_data, end to end (s)",
            fmt(seconds),
            target="minutes for 1M / 10M",
            status=out.strip().splitlines()[-1].split(" in ")[0] + f"; {entries:,} entries",
        )
    print("ceilings ...", flush=True)
    step_started = time.perf_counter()
    ceilings(b)
    b.timings["ceilings"] = time.perf_counter() - step_started
    for name, section in SECTIONS:
        if args.only and name not in args.only:
            continue
        print(f"{name} ...", flush=True)
        section_started = time.perf_counter()
        try:
            section(b)
        except Exception as exc:
            b.add(
                name,
                "section failed",
                "-",
                status=f"failed: {exc.__class__.__name__}: {str(exc)[:300]}",
            )
        b.timings[name] = time.perf_counter() - section_started
    if b.timings:  # where the suite's wall time goes (the 30-minute budget of a full run)
        b.notes.append(
            "wall time per step: "
            + ", ".join(f"{name} {seconds:,.0f} s" for name, seconds in b.timings.items())
        )
    text = table(b, started, time.perf_counter() - t0)
    print("\n" + text)
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{'quick' if b.quick else 'full'}.md").write_text(text)
    if not args.no_docs:
        write_docs(text, "quick" if b.quick else "full")


if __name__ == "__main__":
    main()
