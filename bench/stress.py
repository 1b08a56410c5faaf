"""Stress migrakit's guarantees with real processes: `.venv/bin/python bench/stress.py` (not part of the tests).

1. Concurrent deploys: N `migrakit db.migrate` processes at once, M rounds, on one fresh database; each round
   adds migrations to the folder first (a deploy), so every round has work to race for.
2. Crashes: on another fresh database, a loop starts migrators on the whole folder and, at a random moment,
   SIGKILLs one or ends its server session (pg_terminate_backend); then one last run finishes the job.

The folder mixes what can go wrong: plain DDL, slow migrations (pg_sleep), data, migrations with their own
COMMIT (run outside a transaction, resumed after a crash) and lone CREATE INDEX CONCURRENTLY. Each migration
inserts marker rows, so a migration applied twice (or half) shows up as a duplicated (or missing) marker.
Checked at the end of each part: every migration tracked exactly once, no duplicated or lost tracking rows or
markers, no progress rows or INVALID indexes left, and the schema equal to a clean single run's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":  # run as a script: import `bench` as a package from the repository root
    sys.path[0] = str(ROOT)

import psycopg  # noqa: E402

from bench.pg import Postgres, dump_schema  # noqa: E402

MIGRAKIT = Path(sys.executable).with_name("migrakit")
BASE_WHEN = 1_700_000_000_000


# ------------------------------------------------------------------------------------------- the folder
@dataclass
class Folder:
    path: Path
    tags: list[str] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)  # every marker row a complete run inserts, once each
    tables: list[str] = field(default_factory=list)

    def add(self, rng: random.Random, count: int) -> None:
        """Append `count` migrations (a deploy), written and journaled as drizzle-kit would."""
        for _ in range(count):
            i = len(self.tags)
            tag = f"{i:04d}_stress"
            body = self._body(rng, i)
            (self.path / f"{tag}.sql").write_text(body, encoding="utf-8")
            self.tags.append(tag)
        journal = {
            "version": "7",
            "dialect": "postgresql",
            "entries": [
                {"idx": i, "version": "7", "when": BASE_WHEN + i * 1000, "tag": t, "breakpoints": True} for i, t in enumerate(self.tags)
            ],
        }
        (self.path / "meta" / "_journal.json").write_text(json.dumps(journal, indent=2), encoding="utf-8")

    def _mark(self, name: str) -> str:
        self.marks.append(name)
        return f"INSERT INTO marks VALUES ('{name}');"

    def _body(self, rng: random.Random, i: int) -> str:
        bp = "\n--> statement-breakpoint\n"
        if i == 0:
            self.tables.append("t0")
            return bp.join(["CREATE TABLE marks (m text NOT NULL);", "CREATE TABLE t0 (id int PRIMARY KEY, v text);", self._mark("0")])
        kind = rng.choice(["table", "table", "slow", "data", "own-commit", "concurrent-index"])
        target = rng.choice(self.tables)
        if kind == "table":
            self.tables.append(f"t{i}")
            return bp.join([f"CREATE TABLE t{i} (id int PRIMARY KEY, v text, ref int REFERENCES {target} (id));", self._mark(str(i))])
        if kind == "slow":
            return bp.join([f"ALTER TABLE {target} ADD COLUMN c{i} int;", f"SELECT pg_sleep({rng.uniform(0.05, 0.3):.2f});", self._mark(str(i))])
        if kind == "data":
            return bp.join([f"INSERT INTO {target} (id, v) SELECT g + {i * 1000}, 'row' FROM generate_series(1, 200) g;", self._mark(str(i))])
        if kind == "own-commit":  # runs outside a transaction: resumable, statement by statement
            self.tables.append(f"t{i}")
            return bp.join(
                [
                    f"CREATE TABLE t{i} (id int PRIMARY KEY, v text);",
                    self._mark(f"{i}a"),
                    "COMMIT;",
                    f"SELECT pg_sleep({rng.uniform(0.05, 0.3):.2f});",
                    self._mark(f"{i}b"),
                ]
            )
        return f"CREATE INDEX CONCURRENTLY t{i}_idx ON {target} (v);"  # a lone statement outside a transaction


# ------------------------------------------------------------------------------------------- running
def start(url: str, folder: Path, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGRAKIT_") and k != "DATABASE_URL"}
    env["MIGRAKIT_LOCK_WAIT_TIMEOUT"] = "600"
    return subprocess.Popen(
        [str(MIGRAKIT), "db.migrate", "--database-url", url, "--migrations-dir", str(folder)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass
class Tally:
    runs: int = 0
    ok: int = 0
    applied_something: int = 0
    sigkills: int = 0
    terminated: int = 0
    failed: list[str] = field(default_factory=list)  # unexpected failures (exit code and error)

    def finish(self, proc: subprocess.Popen[str], expected: tuple[int, ...] = ()) -> None:
        """Wait for `proc`; an exit code other than 0 and the `expected` ones (-9 for the SIGKILLed one, 6 for a
        lost connection) is an unexpected failure."""
        out, err = proc.communicate()
        if proc.returncode == 0:
            self.ok += 1
            self.applied_something += "applied " in out
        elif proc.returncode not in expected:
            self.failed.append(f"exit {proc.returncode}: {err.strip()[-600:]}")


CHECKS = (
    "tracking rows duplicated",
    "tracking rows lost",
    "tracking rows unknown",
    "markers duplicated",
    "markers lost",
    "progress rows left",
    "invalid indexes left",
)


def verify(url: str, folder: Folder, reference_schema: str) -> dict[str, Any]:
    """What a database holds after the runs, against what the folder says and a clean run's schema."""
    with psycopg.connect(url) as conn:
        tracked = dict(conn.execute("SELECT hash, count(*) FROM drizzle.__drizzle_migrations GROUP BY hash").fetchall())
        marks = dict(conn.execute("SELECT m, count(*) FROM marks GROUP BY m").fetchall())
        invalid = conn.execute("SELECT count(*) FROM pg_index WHERE NOT indisvalid").fetchone()[0]  # type: ignore[index]
        progress = 0
        if conn.execute("SELECT to_regclass('migrakit.statement_progress') IS NOT NULL").fetchone()[0]:  # type: ignore[index]
            progress = conn.execute("SELECT count(*) FROM migrakit.statement_progress").fetchone()[0]  # type: ignore[index]
    hashes = [hashlib.sha256((folder.path / f"{t}.sql").read_bytes()).hexdigest() for t in folder.tags]
    return {
        "migrations": len(hashes),
        "applied exactly once": sum(1 for h in hashes if tracked.get(h) == 1),
        "tracking rows duplicated": sum(n - 1 for n in tracked.values() if n > 1),
        "tracking rows lost": sum(1 for h in hashes if h not in tracked),
        "tracking rows unknown": sum(1 for h in tracked if h not in hashes),
        "markers duplicated": sum(n - 1 for n in marks.values() if n > 1),
        "markers lost": sum(1 for m in folder.marks if m not in marks),
        "progress rows left": progress,
        "invalid indexes left": invalid,
        "schema equal to a clean run": dump_schema(url) == reference_schema,
    }


def combine(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of several databases: counts added up, schema equal in all of them."""
    out = {key: sum(r[key] for r in results) for key in ("migrations", "applied exactly once", *CHECKS)}
    out["schema equal to a clean run"] = all(r["schema equal to a clean run"] for r in results)
    return out


def concurrent_rounds(pg: Postgres, folder: Folder, rng: random.Random, args: argparse.Namespace, cwd: Path) -> tuple[Tally, str]:
    """N migrators at once, M times, on one database; the folder grows before each round (a deploy)."""
    url = pg.url_of(pg.new_database())
    tally = Tally()
    for _ in range(args.rounds):
        folder.add(rng, args.per_round)
        procs = [start(url, folder.path, cwd) for _ in range(args.migrators)]
        tally.runs += len(procs)
        for proc in procs:
            tally.finish(proc)
    return tally, url


def crash_trials(pg: Postgres, folder: Folder, rng: random.Random, args: argparse.Namespace, cwd: Path, full_run: float) -> tuple[Tally, list[str]]:
    """Per trial, on a fresh database: start 1-2 migrators on the whole folder and (most times) interrupt one
    at a random moment within a full run's duration, by SIGKILL or by ending its session; repeat until a
    migrator finishes."""
    tally = Tally()
    urls = []
    for _ in range(args.trials):
        url = pg.url_of(pg.new_database())
        urls.append(url)
        for _attempt in range(100):
            procs = [start(url, folder.path, cwd) for _ in range(rng.choice([1, 1, 2]))]
            tally.runs += len(procs)
            expected: dict[int, tuple[int, ...]] = {}
            if rng.random() < args.kill_rate:
                time.sleep(rng.uniform(0.3, 0.3 + full_run))  # ~0.3 s: a migrator's start-up before it connects
                victim = rng.choice(procs)
                if victim.poll() is None and rng.random() < 0.5:
                    victim.send_signal(signal.SIGKILL)
                    tally.sigkills += 1
                    expected[id(victim)] = (-signal.SIGKILL,)
                elif victim.poll() is None:
                    with psycopg.connect(url, autocommit=True) as conn:
                        ended = conn.execute(
                            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND application_name = 'migrakit' AND state = 'active'"
                        ).fetchone()[0]  # type: ignore[index]
                    tally.terminated += ended
                    expected = {id(p): (6,) for p in procs}  # a migrator whose session ended says so: exit 6
            finished_before = tally.ok
            for proc in procs:
                tally.finish(proc, expected.get(id(proc), ()))
            if tally.ok > finished_before:
                break
    return tally, urls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--migrators", type=int, default=8, help="concurrent migrators per round (default 8)")
    parser.add_argument("--rounds", type=int, default=10, help="deploy rounds on one database (default 10)")
    parser.add_argument("--per-round", type=int, default=4, help="migrations added per round (default 4)")
    parser.add_argument("--trials", type=int, default=10, help="fresh databases in the crash loop (default 10)")
    parser.add_argument("--kill-rate", type=float, default=0.85, help="share of crash-loop runs interrupted (default 0.85)")
    parser.add_argument("--seed", type=int, default=7, help="random seed for the folder and the kill moments")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="migrakit-stress-") as tmp, Postgres() as pg:
        cwd = Path(tmp)
        folder = Folder(cwd / "migrations")
        (folder.path / "meta").mkdir(parents=True)
        rounds, rounds_url = concurrent_rounds(pg, folder, rng, args, cwd)

        reference = pg.url_of(pg.new_database())  # one clean, uninterrupted run of the final folder
        clean = Tally()
        clean_began = time.monotonic()
        clean.finish(start(reference, folder.path, cwd))
        full_run = time.monotonic() - clean_began
        reference_schema = dump_schema(reference)
        crashes, trial_urls = crash_trials(pg, folder, rng, args, cwd, full_run)

        report: dict[str, Any] = {
            "server": f"PostgreSQL {pg.version()}",
            "seed": args.seed,
            "concurrent deploys": {
                "migrators x rounds": f"{args.migrators} x {args.rounds} (+{args.per_round} migrations each round)",
                "runs": rounds.runs,
                "runs that exited 0": rounds.ok,
                "runs that applied something": rounds.applied_something,
                "unexpected failures": rounds.failed,
                **verify(rounds_url, folder, reference_schema),
            },
            "crashes": {
                "fresh databases": args.trials,
                "runs": crashes.runs,
                "kills (SIGKILL)": crashes.sigkills,
                "lost connections (pg_terminate_backend)": crashes.terminated,
                "unexpected failures": crashes.failed,
                **combine([verify(url, folder, reference_schema) for url in trial_urls]),
            },
            "clean run seconds": round(full_run, 2),
            "clean run failures": clean.failed,
        }
    for part in (report["concurrent deploys"], report["crashes"]):
        part["ok"] = (
            not part["unexpected failures"]
            and part["applied exactly once"] == part["migrations"]
            and not any(part[k] for k in CHECKS)
            and part["schema equal to a clean run"]
        )
    report["total seconds"] = round(time.monotonic() - began, 1)
    ok = report["concurrent deploys"]["ok"] and report["crashes"]["ok"] and not clean.failed
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if ok else 1


def render(report: dict[str, Any]) -> str:
    lines = [f"migrakit stress ({report['server']}, seed {report['seed']}, {report['total seconds']} s)"]
    for part in ("concurrent deploys", "crashes"):
        lines.append(f"\n{part}:")
        for name, value in report[part].items():
            if name == "unexpected failures":
                lines.append(f"  {name}: {len(value)}")
                lines += [f"    {v}" for v in value]
            else:
                lines.append(f"  {name}: {value}")
    lines.append(f"\nclean run of the whole folder: {report['clean run seconds']} s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
