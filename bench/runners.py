"""The ways to apply one migration folder that the benchmark compares. Each takes a Job and returns when done.

migrakit runs in this process (its imports are warm after the first run); Drizzle and psql run as child
processes, so their times include starting node (~0.1-0.3 s) or psql (~10 ms).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pglast.parser  # noqa: F401  (imported now, so that no timed run pays for it)
import psycopg
from tests.interop import drizzle

from migrakit.core.migration import CONSOLIDATED, Migration, drizzle_hash
from migrakit.db import tracking
from migrakit.db.connect import server
from migrakit.db.run.executor import Executor
from migrakit.db.run.strategies.base import Options
from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate as run_migrate

from .pg import BIN


@dataclass(frozen=True)
class Job:
    folder: Path  # the drizzle-kit folder
    combined: Path  # the same migrations concatenated into one file
    url: str  # the database to apply them to (direct or through the proxy)
    workdir: Path  # a folder without pyproject.toml: migrakit's project root


def mode1(job: Job, *, pipeline: bool = True) -> None:
    settings = load_settings(job.workdir, env={}, database_url=job.url, migrations_dir=str(job.folder), pipeline=pipeline)
    run_migrate(settings)


def mode1_unpipelined(job: Job) -> None:
    mode1(job, pipeline=False)


def mode2(job: Job) -> None:
    """The whole folder as one consolidated file: one message in one transaction, plus its tracking row."""
    data = job.combined.read_bytes()
    migration = Migration(
        tag=job.combined.stem, when=1, path=str(job.combined), text=data.decode("utf-8"), hash=drizzle_hash(data), mode=CONSOLIDATED
    )
    options = Options()
    with server.connect(job.url, autocommit=True) as conn:
        tracking.ensure_table(conn, options.schema, options.table)
        Executor(conn, options).apply([migration])


def drizzle_orm(job: Job) -> None:
    result = drizzle.drizzle_migrate(job.folder, job.url, major=0)
    if not result.get("ok"):
        raise RuntimeError(f"Drizzle's migrator failed: {result}")


def psql(job: Job) -> None:
    subprocess.run(
        [str(BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(job.combined), f"--dbname={job.url}"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def one_message(job: Job) -> None:
    """The floor: every statement in one simple-protocol query (one round trip, one implicit transaction)."""
    with psycopg.connect(job.url, autocommit=True) as conn:
        conn.execute(job.combined.read_bytes())


@dataclass(frozen=True)
class Runner:
    key: str
    label: str
    apply: Callable[[Job], None]


RUNNERS = (
    Runner("mode1", "migrakit Mode 1 (pipelined)", mode1),
    Runner("mode1-unpipelined", "migrakit Mode 1 (unpipelined)", mode1_unpipelined),
    Runner("mode2", "migrakit Mode 2 (one file, one message)", mode2),
    Runner("drizzle", "Drizzle migrate() (node-postgres)", drizzle_orm),
    Runner("psql", "psql -1 -f (concatenated)", psql),
    Runner("floor", "one message (psycopg, simple protocol)", one_message),
)


def available() -> tuple[tuple[Runner, ...], list[str]]:
    """The runners this machine can run, and a line for each one skipped."""
    if drizzle.node_available():
        return RUNNERS, []
    skipped = f"skipped Drizzle: node or {drizzle.NODE_DIR / 'node_modules'} missing (run `npm ci` in {drizzle.NODE_DIR})"
    return tuple(r for r in RUNNERS if r.key != "drizzle"), [skipped]
