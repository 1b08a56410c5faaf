"""Where migrakit's time and memory go, for the targets bench/run.py reports as missed.

    .venv/bin/python bench/profile.py status [N]    cProfile of `migrakit db.status` on N applied migrations (10000)
    .venv/bin/python bench/profile.py memory [MB]   peak RSS of `db.migrate` on one MB-sized file (100), by function
    .venv/bin/python bench/profile.py wire [N]      the messages Mode 1 sends for N 2-statement migrations (2), one
                                                     line per round trip (libpq trace)
    .venv/bin/python bench/profile.py client [MxS]  Mode 1 applying M migrations of S statements (1000x5) directly:
                                                     the client's CPU by phase and the time spent waiting on the server

Each starts its own PostgreSQL (pg.py) and uses synthetic folders (synth.py).
"""

from __future__ import annotations

import collections
import pstats
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    sys.path[0] = str(ROOT)

from bench import synth  # noqa: E402
from bench.measure import migrakit_exe  # noqa: E402
from bench.pg import Postgres  # noqa: E402
from bench.runners import Job, mode1  # noqa: E402


def status(work: Path, migrations: int) -> None:
    folder = synth.write_trivial_folder(work / "status", migrations)
    with Postgres() as pg:
        url = pg.url_of(pg.new_database())
        mode1(Job(folder, folder, url, work))
        out = work / "status.prof"
        cmd = [migrakit_exe(), "db.status", "--database-url", url, "--migrations-dir", str(folder)]
        subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), *cmd], cwd=work, capture_output=True, check=True)
    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative").print_stats(r"migrakit", 15)
    stats.sort_stats("tottime").print_stats(10)


class _RssSampler(threading.Thread):
    """Every `every` s: the process's RSS and the innermost migrakit function on the main thread's stack."""

    def __init__(self, every: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.every, self.main, self.done = every, threading.main_thread().ident, threading.Event()
        self.growth: collections.Counter[str] = collections.Counter()  # function -> RSS it added (bytes)
        self.peak = (0, "")

    def _where(self) -> str:
        frame = sys._current_frames().get(self.main)  # type: ignore[arg-type]
        while frame is not None and "/migrakit/" not in frame.f_code.co_filename:
            frame = frame.f_back
        return f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}" if frame else "(outside migrakit)"

    def run(self) -> None:
        last = _rss()
        while not self.done.wait(self.every):
            now, where = _rss(), self._where()
            if now > last:
                self.growth[where] += now - last
            last = now
            if now > self.peak[0]:
                self.peak = (now, where)


def _rss() -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) * 1024  # type: ignore[union-attr]


def memory(work: Path, megabytes: float) -> None:
    folder = synth.write_big_file(work / "big", megabytes)
    size = next(folder.glob("*.sql")).stat().st_size
    with Postgres() as pg:
        url = pg.url_of(pg.new_database())
        mode1(Job(work / "empty", work, url, work))  # imports and connections warm, nothing applied
        sampler = _RssSampler()
        base = _rss()
        sampler.start()
        start = time.perf_counter()
        mode1(Job(folder, folder, url, work))
        sampler.done.set()
        sampler.join()
    print(f"file {size / 2**20:.0f} MiB, RSS before {base / 2**20:.0f} MiB, peak {sampler.peak[0] / 2**20:.0f} MiB "
          f"(in {sampler.peak[1]}), {time.perf_counter() - start:.1f} s")
    print("RSS growth by the innermost migrakit function running when it grew:")
    for where, grew in sampler.growth.most_common(8):
        print(f"  {grew / 2**20:8.0f} MiB  {where}")


def wire(work: Path, migrations: int) -> None:
    """Print what Mode 1 sends, one line per burst from the client (each costs a round trip)."""
    import psycopg

    folder = synth.write_folder(work / "wire", migrations, 2)
    trace = work / "pq.trace"
    connect = psycopg.connect

    def traced(*args, **kwargs):  # type: ignore[no-untyped-def]
        conn = connect(*args, **kwargs)
        conn._bench_trace = trace.open("w")  # type: ignore[attr-defined]
        conn.pgconn.trace(conn._bench_trace.fileno())  # type: ignore[attr-defined]
        conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        return conn

    psycopg.connect = traced  # type: ignore[assignment]
    with Postgres() as pg:
        mode1(Job(folder, folder, pg.url_of(pg.new_database()), work))
    bursts: list[list[str]] = []
    client_turn = False
    for line in trace.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        side, kind, rest = fields[0], fields[2].strip(), " ".join(fields[3:]).strip()
        if side == "F":
            if not client_turn:
                bursts.append([])
            client_turn = True
            if kind in ("Query", "Parse"):
                sql = re.sub(r'"(?: \d+(?: N+)*)?$', "", rest)[4 if kind == "Parse" else 1 :]  # Parse "" "sql" 1 NNNN
                kind = sql[:40].replace("\n", " ")
            if kind not in ("Bind", "Describe", "Execute"):
                bursts[-1].append(kind)
        else:
            client_turn = False
    for i, burst in enumerate(bursts, 1):
        print(f"{i:3d}: {' | '.join(burst)}")


class _Phases:
    """CPU (process_time) and wall time spent inside chosen functions, patched in place for the run."""

    def __init__(self) -> None:
        self.cpu: collections.Counter[str] = collections.Counter()
        self.wall: collections.Counter[str] = collections.Counter()

    def watch(self, owner: object, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.cpu[label] += time.process_time() - cpu
                self.wall[label] += time.perf_counter() - wall

        setattr(owner, name, timed)


def client(work: Path, size: str) -> None:
    """Where Mode 1's time goes on a direct connection, client side: reading and hashing the files, splitting
    them, queueing the pipeline's commands, the rest (connecting, the lock, the tracking table, planning); and
    the wall time the executor spends waiting on the server. Medians of 3 runs after a warm-up."""
    import statistics

    from migrakit.core import migration
    from migrakit.db.run.strategies import pipelined
    from migrakit.sources import folders

    n, s = (int(x) for x in size.lower().split("x"))
    folder = synth.write_folder(work / "client", n, s)
    phases = _Phases()
    phases.watch(folders, "read_sql", "read + hash files")
    phases.watch(migration, "split_statements", "split statements (pglast)")
    phases.watch(pipelined.Pipelined, "apply", "executor (pipelined)")
    runs: list[dict[str, float]] = []
    with Postgres() as pg:
        mode1(Job(folder, folder, pg.url_of(pg.new_database()), work))  # imports and caches warm
        for _ in range(3):
            phases.cpu.clear()
            phases.wall.clear()
            url = pg.url_of(pg.new_database())
            cpu, wall = time.process_time(), time.perf_counter()
            mode1(Job(folder, folder, url, work))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            run = {f"client CPU: {k}": v for k, v in phases.cpu.items()}
            run["client CPU: the rest (connect, lock, tracking table, plan)"] = cpu - sum(phases.cpu.values())
            run["client CPU: total"] = cpu
            run["waiting on the server (executor wall - CPU)"] = phases.wall["executor (pipelined)"] - phases.cpu["executor (pipelined)"]
            run["wall: total"] = wall
            runs.append(run)
    print(f"Mode 1, {n:,} x {s} statements, direct (medians of {len(runs)} runs):")
    for key in runs[0]:
        print(f"  {statistics.median(r[key] for r in runs):8.3f} s  {key}")


def main(argv: list[str]) -> None:
    what, arg = (argv + ["status"])[0], argv[1] if len(argv) > 1 else None
    actions = {
        "status": (status, int, 10_000), "memory": (memory, float, 100.0), "wire": (wire, int, 2), "client": (client, str, "1000x5"),
    }
    if what not in actions:
        sys.exit(__doc__)
    action, kind, default = actions[what]
    with tempfile.TemporaryDirectory(prefix="migrakit-profile-") as tmp:
        action(Path(tmp), kind(arg) if arg else default)


if __name__ == "__main__":
    main(sys.argv[1:])
