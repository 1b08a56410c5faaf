"""How long `db.lint` takes on 20 pending migrations (80 statements), in-process and as a new process.

    .venv/bin/python bench/lint_speed.py                          # this checkout
    .venv/bin/python bench/lint_speed.py --before /tmp/old/src    # and another checkout's src, runs alternated

Each migration adds a column to the seeded `users` (5,000 rows), creates a table referencing it, indexes both: 80
statements, 40 of them index builds. Reported: the best and the median of `--repeat` runs, in-process (the lint
workflow called again in this process) and as a process (`migrakit db.lint`'s entry point, Python's start
and imports included). With `--before`, the same process runs with PYTHONPATH set to that source, alternated with
this checkout's, and the ratio of the medians is printed: the machine is shared, so only runs side by side compare.
A figure, not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    sys.path[0] = str(ROOT)

from tests.fixtures.folders import add_migration, make_drizzle_folder  # noqa: E402

from bench.pg import Postgres  # noqa: E402
from migrakit.sources.config import load_settings  # noqa: E402
from migrakit.workflows import lint as lint_workflow  # noqa: E402
from migrakit.workflows.migrate import migrate  # noqa: E402

SEED = (ROOT / "tests" / "lint_cases" / "seed.sql").read_text()


def project(work: Path, pg: Postgres, pending: int = 20) -> tuple[object, Path]:
    db = pg.new_database()
    folder = make_drizzle_folder(work, [("0000_seed", SEED)])
    settings = load_settings(work, env={}, database_url=pg.url_of(db), migrations_dir=str(folder), shadow_url=pg.url)
    migrate(settings)
    for i in range(pending):
        add_migration(folder, f"{i + 1:04d}_step", (
            f"ALTER TABLE users ADD COLUMN c{i} text;\n--> statement-breakpoint\n"
            f"CREATE TABLE t{i} (id bigint PRIMARY KEY, user_id int REFERENCES users (id));\n--> statement-breakpoint\n"
            f"CREATE INDEX t{i}_user_idx ON t{i} (user_id);\n--> statement-breakpoint\n"
            f"CREATE INDEX users_c{i}_idx ON users (c{i});"
        ))  # fmt: skip
    return settings, folder


def process_seconds(args: list[str], cwd: Path, src: str | None) -> float:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    t0 = time.perf_counter()
    program = "import sys; sys.argv[0] = 'migrakit'; from migrakit.tasks.cli import main; main()"  # the console script
    proc = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=300,
                          check=False, cwd=cwd, env=env)  # fmt: skip
    took = time.perf_counter() - t0
    assert proc.returncode == 7, proc.stdout + proc.stderr  # the CREATE INDEX on users are errors
    return took


def figure(name: str, runs: list[float]) -> str:
    return f"{name}: best {min(runs):.2f} s, median {statistics.median(runs):.2f} s ({len(runs)} runs)"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", help="another checkout's src directory, measured alternated with this one")
    args = parser.parse_args()
    with Postgres() as pg, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        settings, folder = project(work, pg)
        cli = ["db.lint", "-m", str(folder), "-u", settings.database_url, "-s", pg.url]  # type: ignore[attr-defined]
        inner, outer, before = [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            report = lint_workflow.lint(settings)  # type: ignore[arg-type]
            inner.append(time.perf_counter() - t0)
            assert len(report.migrations) == 20
            outer.append(process_seconds(cli, work, None))
            if args.before:
                before.append(process_seconds(cli, work, args.before))
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print("db.lint, 20 pending migrations (80 statements), PostgreSQL on loopback; load average", load)
    print(figure("in-process", inner))
    print(figure("as a new process", outer))
    if before:
        print(figure(f"as a new process, {args.before}", before))
        print(f"ratio of medians (this / before): {statistics.median(outer) / statistics.median(before):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
