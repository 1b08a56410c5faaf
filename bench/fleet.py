"""The fleet benchmark: `migrakit db.migrate --targets` on many tenant databases through the latency proxy, against
the same command one target after another (`--concurrency 1`) and against a shell loop of one `migrakit db.migrate`
process per tenant (what a fleet took before `--targets`; the issue's "one after another"), in the same run.

    .venv/bin/python bench/fleet.py                       # 60 tenants, 20 migrations x 3 statements, +20 ms RTT
    .venv/bin/python bench/fleet.py --tenants 60,500 --concurrency 8,32

Starts its own PostgreSQL (bench/pg.py) and a LatencyProxy in this process; migrakit runs as a child process
(bench/maxrss.py: wall time and its own peak RSS), as a deploy would run it, with Python's bytecode cache on after
one untimed run (bench/measure.py's PROCESS_NOTE: an installed migrakit has its .pyc files). For each size: fresh databases
for every measured run, then a check that every target has every tracking row; then a rerun on the migrated
targets (all up to date). Round trips are the proxy's client-to-server bursts, divided by the targets; "queries"
leaves out the bursts that open a connection (2 per connection: SSLRequest, startup) or only close one.
Writes a Markdown report (bench/results/fleet.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    sys.path[0] = str(ROOT)

import psycopg  # noqa: E402

from bench import synth  # noqa: E402
from bench.measure import PROCESS_NOTE, migrakit_exe, peak_rss, process_env  # noqa: E402
from bench.pg import Postgres  # noqa: E402
from bench.proxy import LatencyProxy  # noqa: E402
from bench.report import machine_info  # noqa: E402

RESULTS = ROOT / "bench" / "results"


@dataclass
class Row:
    tenants: int
    label: str
    concurrency: int
    seconds: float
    peak: int
    trips: float  # round trips per target
    ok: bool
    note: str = ""  # why the run failed
    queries: float = 0.0  # of the round trips, those neither opening nor only closing a connection
    cpu: tuple[float, float] = (0.0, 0.0)  # CPU seconds: migrakit's process, the PostgreSQL server's
    loop: bool = False  # a shell loop of one migrakit process per tenant


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/fleet.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--tenants", type=_ints, default=[60], help="comma-separated fleet sizes (default 60)")
    p.add_argument("--migrations", type=int, default=20, help="migrations per tenant (default 20)")
    p.add_argument("--statements", type=int, default=3, help="statements per migration (default 3; --folder synth)")
    p.add_argument("--folder", choices=("synth", "trivial"), default="synth",
                   help="synth: bench/synth.py's DDL mix (tables, indexes, foreign keys, functions, triggers); "
                   "trivial: one `SELECT n` per migration, so the server does almost nothing and the fleet's own "
                   "cost shows (default synth)")
    p.add_argument("--concurrency", type=_ints, default=[8], help="comma-separated --concurrency values (default 8)")
    p.add_argument("--sequential-max", type=int, default=100_000,
                   help="measure one-after-another only for fleets up to this size (default: always)")
    p.add_argument("--loop-max", type=int, default=100,
                   help="measure the shell loop (one migrakit process per tenant) only for fleets up to this size (default 100)")
    p.add_argument("--rtt-ms", type=float, default=20.0, help="round trip the proxy adds (default 20)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS / "fleet.md")
    return p.parse_args(argv)


def log(message: str) -> None:
    print(f"[fleet] {message}", file=sys.stderr, flush=True)


def _databases(pg: Postgres, count: int) -> list[str]:
    return [pg.new_database() for _ in range(count)]


def _targets_file(path: Path, pg: Postgres, names: list[str], port: int) -> Path:
    lines = []
    for i, name in enumerate(names):
        lines += ["[[targets]]", f'name = "t{i:04d}"', f'url = "{pg.url_of(name, port)}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _tracked(pg: Postgres, names: list[str]) -> list[int]:
    counts = []
    for name in names:
        with psycopg.connect(pg.url_of(name)) as conn:
            counts.append(conn.execute("SELECT count(*) FROM drizzle.__drizzle_migrations").fetchone()[0])  # type: ignore[index]
    return counts


def _server_cpu(pg: Postgres) -> float:
    """CPU seconds the server has used so far: the postmaster, the backends that ended (its children's times) and
    the running ones."""
    import psutil

    main = psutil.Process(int((pg.pgdata / "postmaster.pid").read_text().split()[0]))
    t = main.cpu_times()
    running = 0.0
    for child in main.children():
        try:
            c = child.cpu_times()
            running += c.user + c.system
        except psutil.NoSuchProcess:
            pass
    return t.user + t.system + t.children_user + t.children_system + running


def _loop_script(path: Path, pg: Postgres, names: list[str], port: int, folder: Path) -> Path:
    """A deploy script of one `migrakit db.migrate` per tenant, stopping at the first failure."""
    lines = ["set -e"] + [
        f"{shlex.quote(migrakit_exe())} db.migrate --database-url {shlex.quote(pg.url_of(name, port))} "
        f"--migrations-dir {shlex.quote(str(folder))} > /dev/null"
        for name in names
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(
    pg: Postgres, proxy: LatencyProxy, work: Path, folder: Path, names: list[str], concurrency: int, loop: bool = False
) -> tuple[float, int, float, float, tuple[float, float]]:
    """(seconds, peak RSS, round trips per target, of them queries per target, (CPU seconds of migrakit, of the
    server)) of one fleet run; its --json document goes to a file (through
    `sh -c 'exec ...'`, so the measured process is migrakit itself), and a failed target is reported from it.
    `loop`: a shell loop of one migrakit process per tenant instead (its peak is the largest of them)."""
    stem = f"{len(names)}_{concurrency}_{time.monotonic_ns()}"
    targets = _targets_file(work / f"targets_{stem}.toml", pg, names, proxy.port)
    out = work / f"out_{stem}.json"
    cmd = [migrakit_exe(), "db.migrate", "--migrations-dir", str(folder), "--targets", str(targets),
           "--concurrency", str(concurrency), "--json"]  # fmt: skip
    if loop:
        cmd = ["sh", str(_loop_script(work / f"loop_{stem}.sh", pg, names, proxy.port, folder))]
    before, setup_before, close_before = proxy.turns, proxy.setup_turns, proxy.close_turns
    server_before, mine_before = _server_cpu(pg), os.times()
    try:
        seconds, peak = peak_rss(["sh", "-c", f'exec "$0" "$@" > {shlex.quote(str(out))}', *cmd], work, process_env(work))
    except RuntimeError as exc:
        if loop:
            raise RuntimeError(f"the shell loop stopped: {str(exc)[-500:]}") from None
        doc = json.loads(out.read_text(encoding="utf-8") or "{}")
        failed = [t for t in doc.get("targets", []) if t["status"] == "failed"]
        shown = "; ".join(f"{t['name']}: {t['error']['message']} ({t['error']['cause']})" for t in failed[:3])
        raise RuntimeError(f"{len(failed)} target(s) failed: {shown or doc.get('error')}") from None
    mine = os.times()
    client = (mine.children_user - mine_before.children_user) + (mine.children_system - mine_before.children_system)
    cpu = (client, _server_cpu(pg) - server_before)
    turns = proxy.turns - before
    queries = turns - (proxy.setup_turns - setup_before) - (proxy.close_turns - close_before)
    return seconds, peak, turns / len(names), queries / len(names), cpu


def _round_trip(url: str) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT 1")
        start = time.perf_counter()
        for _ in range(10):
            conn.execute("SELECT 1")
        return (time.perf_counter() - start) / 10


def _warm_up(pg: Postgres, work: Path, folder: Path) -> None:
    """One untimed single and fleet run on a spare database, so that every timed run finds Python's bytecode
    cache filled (PROCESS_NOTE)."""
    name = pg.new_database()
    try:
        env = process_env(work)
        targets = _targets_file(work / "targets_warm.toml", pg, [name], pg.port)
        for cmd in (["--database-url", pg.url_of(name)], ["--targets", str(targets)]):
            subprocess.run([migrakit_exe(), "db.migrate", "--migrations-dir", str(folder), *cmd],
                           cwd=work, env=env, capture_output=True, check=True, timeout=300)  # fmt: skip
    finally:
        pg.drop_database(name)


def measure(pg: Postgres, work: Path, args: argparse.Namespace, tenants: int, rtts: list[float]) -> list[Row]:
    if args.folder == "trivial":
        folder = synth.write_trivial_folder(work / f"folder_{tenants}", args.migrations)
    else:
        folder = synth.write_folder(work / f"folder_{tenants}", args.migrations, args.statements, seed=args.seed)
    _warm_up(pg, work, folder)
    rows: list[Row] = []
    runs = [(f"fleet --concurrency {c}", c, False) for c in args.concurrency]
    if tenants <= args.sequential_max:
        runs.append(("one after another (--concurrency 1)", 1, False))
    if tenants <= args.loop_max:
        runs.append(("shell loop: one `migrakit db.migrate` per tenant", 1, True))
    biggest = max(c for _, c, _ in runs)
    # 2 connections per running target, plus room for closing ones the proxy still counts (a loaded machine lags)
    with LatencyProxy(pg.port, delay=args.rtt_ms / 2000, max_connections=4 * biggest + 16) as proxy:
        rtts.append(_round_trip(pg.url_of("postgres", proxy.port)))
        for label, concurrency, loop in runs:
            log(f"{tenants} tenants: creating databases")
            names = _databases(pg, tenants)
            try:
                log(f"{tenants} tenants: {label}")
                try:
                    seconds, peak, trips, queries, cpu = _run(pg, proxy, work, folder, names, concurrency, loop)
                except RuntimeError as exc:
                    log(f"  FAILED: {exc}")
                    rows.append(Row(tenants, label, concurrency, 0.0, 0, 0.0, False, str(exc), loop=loop))
                    continue
                ok = _tracked(pg, names) == [args.migrations] * tenants
                rows.append(Row(tenants, label, concurrency, seconds, peak, trips, ok, queries=queries, cpu=cpu, loop=loop))
                log(f"  {seconds:.2f} s, peak {peak / 2**20:.0f} MiB, {trips:.1f} round trips per target, {'ok' if ok else 'WRONG'}")
                if concurrency == biggest and concurrency > 1 and not loop:
                    seconds, peak, trips, queries, cpu = _run(pg, proxy, work, folder, names, concurrency)
                    rows.append(Row(tenants, f"rerun, all up to date (--concurrency {concurrency})", concurrency, seconds, peak, trips,
                                    _tracked(pg, names) == [args.migrations] * tenants, queries=queries, cpu=cpu))  # fmt: skip
                    log(f"  rerun: {seconds:.2f} s, {trips:.1f} round trips per target")
            finally:
                for name in names:
                    pg.drop_database(name)
    return rows


def render(rows: list[Row], args: argparse.Namespace, command: str, info: dict[str, str], rtt: str) -> str:
    lines = [
        "# migrakit fleet benchmark",
        "",
        f"`{command}`",
        "",
        *(f"- {k}: {v}" for k, v in info.items()),
        f"- each tenant: {args.migrations} migrations × "
        + (f"{args.statements} statements (bench/synth.py's DDL mix)" if args.folder == "synth" else "1 statement (`SELECT n`)")
        + f", through the latency proxy (+{args.rtt_ms:g} ms round trip; {rtt})",
        "- migrakit runs as a child process; times are wall clock of the whole command, peak memory its own RSS; CPU is the "
        "migrakit process's (with the bench's `maxrss.py` wrapper) and the PostgreSQL server's (every process of it) over "
        "the run: the server shares the cores",
        f"- {PROCESS_NOTE}",
        "",
        "| tenants | run | time | per target | round trips per target (of them queries) | CPU: migrakit / server | peak memory | every row tracked |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.tenants} | {r.label} | {r.seconds:.2f} s | {r.seconds / r.tenants * 1000:.0f} ms | {r.trips:.1f} ({r.queries:.1f}) | "
            f"{r.cpu[0]:.2f} s / {r.cpu[1]:.2f} s | "
            f"{r.peak / 2**20:.0f} MiB | {'yes' if r.ok else '**NO**'} |"
        )
    lines.append("")
    lines += [f"- {r.tenants} tenants, {r.label}: FAILED: {r.note}" for r in rows if r.note]
    for tenants in sorted({r.tenants for r in rows}):
        for base, name in ((False, "one after another (--concurrency 1)"), (True, "the shell loop")):
            seq = next((r for r in rows if r.tenants == tenants and r.concurrency == 1 and r.loop == base), None)
            for r in rows:
                if r.tenants == tenants and seq and seq.ok and r.ok and r.concurrency > 1 and not r.label.startswith("rerun"):
                    lines.append(f"- {tenants} tenants: {r.label} is {seq.seconds / r.seconds:.1f}× faster than {name}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="migrakit-fleet-bench-"))
    rows: list[Row] = []
    try:
        with Postgres() as pg:
            with psycopg.connect(pg.url, autocommit=True) as conn:  # room for 2 connections per running target
                max_conn = conn.execute("SHOW max_connections").fetchone()[0]  # type: ignore[index]
            if int(max_conn) < 4 * max(args.concurrency) + 20:
                log(f"max_connections = {max_conn}: raising it")
                with psycopg.connect(pg.url, autocommit=True) as conn:
                    conn.execute(f"ALTER SYSTEM SET max_connections = {4 * max(args.concurrency) + 40}")
                pg._run("pg_ctl", "-D", str(pg.pgdata), "-w", "-o", f"-h 127.0.0.1 -p {pg.port} -k {pg.base}", "-l", str(pg.base / "log"), "restart")
            rtts: list[float] = []
            for tenants in args.tenants:
                rows += measure(pg, work, args, tenants, rtts)
            rtt = f"`SELECT 1` through it: {1000 * min(rtts):.1f} ms" if rtts else "not measured"
            info = machine_info(pg.version())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = ".venv/bin/python bench/fleet.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = render(rows, args, command.strip(), info, rtt)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    log(f"wrote {args.out}")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        print(f"[fleet] {exc.cmd[:2]} failed: {exc.stderr}", file=sys.stderr)
        sys.exit(1)
