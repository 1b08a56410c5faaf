"""Timed measurements: the runner comparison (with its correctness checks), `db.status`, `--help`, peak memory."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from tests.interop import drizzle

from .pg import Postgres, dump_schema
from .proxy import LatencyProxy
from .runners import Job, Runner, mode1

ROOT = Path(__file__).resolve().parents[1]
MIGRAKIT = ROOT / ".venv" / "bin" / "migrakit"


def migrakit_exe() -> str:
    return str(MIGRAKIT) if MIGRAKIT.exists() else (shutil.which("migrakit") or "migrakit")


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@dataclass
class Suite:
    """One folder applied by every runner, `repeat` times each, over one connection path."""

    title: str
    size: tuple[int, int]  # migrations, statements per migration
    proxied: bool
    times: dict[str, list[float]] = field(default_factory=dict)
    turns: dict[str, int] = field(default_factory=dict)  # through the proxy: round trips of the last run
    # ... of them: (connection set-up bursts, query bursts, bursts that only close a connection)
    turn_parts: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    def median(self, key: str) -> float | None:
        values = self.times.get(key)
        return median(values) if values else None


def _rows(url: str) -> list[tuple[str, str]]:
    return [(r["hash"], r["created_at"]) for r in drizzle.tracking_rows(url)]


def run_suite(
    suite: Suite,
    pg: Postgres,
    job: Job,
    runners: Sequence[Runner],
    repeat: int,
    proxy: LatencyProxy | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> Suite:
    """Apply `job`'s folder with each runner to a fresh database, round-robin `repeat` times, checking
    that every schema is the same and that migrakit Mode 1 and Drizzle write the same tracking rows."""
    reference: tuple[str, str] | None = None  # (runner, schema dump)
    compared = 0
    for attempt in range(repeat):
        rows: dict[str, list[tuple[str, str]]] = {}
        for r in runners:
            name = pg.new_database()
            try:
                target = Job(job.folder, job.combined, pg.url_of(name, proxy and proxy.port), job.workdir)
                turns = (proxy.turns, proxy.setup_turns, proxy.close_turns) if proxy else (0, 0, 0)
                seconds = timed(lambda: r.apply(target))
                suite.times.setdefault(r.key, []).append(seconds)
                if proxy:
                    proxy.wait_idle()  # the last bursts (a Terminate) counted
                    total, setup, close = proxy.turns - turns[0], proxy.setup_turns - turns[1], proxy.close_turns - turns[2]
                    suite.turns[r.key] = total
                    suite.turn_parts[r.key] = (setup, total - setup - close, close)
                log(f"  run {attempt + 1}: {r.key:<18} {seconds:8.3f} s" + (f" {suite.turns[r.key]:6d} round trips" if proxy else ""))
                schema = dump_schema(pg.url_of(name))
                if reference is None:
                    reference = (r.key, schema)
                elif schema != reference[1]:
                    suite.problems.append(f"run {attempt + 1}: {r.key}'s schema differs from {reference[0]}'s")
                if r.key in ("mode1", "drizzle"):
                    rows[r.key] = _rows(pg.url_of(name))
            finally:
                pg.drop_database(name)
        if rows.get("mode1") and len(rows["mode1"]) != suite.size[0]:
            suite.problems.append(f"run {attempt + 1}: mode1 wrote {len(rows['mode1'])} tracking rows, not {suite.size[0]}")
        if "mode1" in rows and "drizzle" in rows:
            compared += 1
            if rows["mode1"] != rows["drizzle"]:
                suite.problems.append(f"run {attempt + 1}: tracking rows (hash, created_at) differ between mode1 and drizzle")
    if reference:
        objects = reference[1].count("CREATE ")
        suite.checks.append(f"schema (pg_dump of public, {objects} CREATE statements) compared across {len(runners)} runners x {repeat} runs")
    if compared:
        suite.checks.append(f"tracking rows (hash, created_at) of mode1 and drizzle compared in {compared} run(s)")
    return suite


def round_trip(url: str, count: int = 20) -> float:
    """Median time of `SELECT 1` on an open connection."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT 1")
        return median([timed(lambda: conn.execute("SELECT 1").fetchone()) for _ in range(count)])


PROCESS_NOTE = (
    "Whole-process timings (`db.status`, `--help`) follow one untimed run of the same command, with Python's "
    "bytecode cache on (kept in the bench's work folder), as an installed migrakit has its .pyc files (`migrakit` "
    "leaves the cache on where Invoke turns it off: tasks/cli.py); "
    "PYTHONDONTWRITEBYTECODE in the caller's environment would otherwise make each run compile every module again."
)


def process_env(workdir: Path) -> dict[str, str]:
    """The environment of a timed whole-process run (see PROCESS_NOTE): bytecode cached under `workdir`, so the
    source tree is not written to."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def process_times(cmd: Sequence[str], workdir: Path, runs: int) -> list[float]:
    """Seconds of `runs` whole processes of `cmd`, after one untimed run (PROCESS_NOTE)."""
    env = process_env(workdir)
    run = lambda: subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, check=True)  # noqa: E731
    run()
    return [timed(run) for _ in range(runs)]


def status_times(pg: Postgres, folder: Path, workdir: Path, runs: int) -> list[float]:
    """Apply `folder` once (migrakit Mode 1), then time whole `migrakit db.status` processes on it."""
    name = pg.new_database()
    try:
        url = pg.url_of(name)
        mode1(Job(folder, folder, url, workdir))
        return process_times([migrakit_exe(), "db.status", "--database-url", url, "--migrations-dir", str(folder)], workdir, runs)
    finally:
        pg.drop_database(name)


def help_times(workdir: Path, runs: int) -> list[float]:
    return process_times([migrakit_exe(), "--help"], workdir, runs)


def peak_rss(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """(seconds, peak resident set in bytes) of one child process (see maxrss.py); its descendants count too."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("maxrss.py")), *cmd], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} exited {proc.returncode}: {proc.stderr[-2000:]}")
    seconds, peak = proc.stdout.split()
    return float(seconds), int(peak)


def migrate_rss(pg: Postgres, folder: Path, workdir: Path) -> tuple[float, int]:
    """Peak memory of `migrakit db.migrate` applying `folder` to a fresh database."""
    name = pg.new_database()
    try:
        cmd = [migrakit_exe(), "db.migrate", "--database-url", pg.url_of(name), "--migrations-dir", str(folder)]
        return peak_rss(cmd, workdir)
    finally:
        pg.drop_database(name)
