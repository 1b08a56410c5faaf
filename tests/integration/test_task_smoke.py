"""One real `migrakit` process per task: the console script starts, parses, runs the task end to end on a small
project and exits with the task's documented code, no traceback. Every other CLI test drives the same entry point
in-process (tests/fixtures/cli.py `run_in_process`); this is the one place each task is proved as a process."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from migrakit.tasks import ns
from tests.fixtures.cli import run_cli
from tests.fixtures.folders import make_drizzle_folder

GIT = {"GIT_AUTHOR_NAME": "Smoke", "GIT_AUTHOR_EMAIL": "smoke@example.com", "GIT_COMMITTER_NAME": "Smoke",
       "GIT_COMMITTER_EMAIL": "smoke@example.com", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}  # fmt: skip

# task -> (its arguments, its documented exit code on this project, what its output (stdout or stderr) must hold)
TASKS: dict[str, tuple[list[str], int, str]] = {
    "build": ([], 0, "applied 1 migration(s): 0000_items"),
    "dev": ([], 0, "applied 1 migration(s): 0000_items"),
    "db.migrate": ([], 0, "applied 1 migration(s): 0000_items"),
    "db.migrate-consolidated": ([], 0, "nothing to apply (0 already applied)"),
    "db.status": ([], 0, "0000_items"),
    "db.check": ([], 3, "1 migration(s) are pending here (0000_items)"),  # exit 3: the database lacks them
    "db.lint": ([], 0, "1 statement(s) in 1 migration(s): 0 error(s)"),
    "db.baseline": ([], 0, "the database is empty: no baseline needed"),
    "db.bootstrap": ([], 0, "ran 1 legacy file(s), each in one transaction: 001_settings"),
    "db.consolidate": (["--from", "0000_items", "--to", "0000_items"], 5, "nothing was changed: run again with --yes"),
    "db.count-branch-migrations": ([], 0, "main: 0 new Mode 1 migration(s) in migrations/"),
    "db.generate": (["--custom", "seed"], 0, "wrote migration 0001_seed"),
    "db.generate-down": (["--all"], 0, "0000_items: wrote migrations/0000_items.down.sql"),
    "db.rollback": (["--steps", "1"], 0, "nothing to roll back"),  # nothing is applied on this project
    "db.server-status": ([], 0, "embedded PostgreSQL: not running"),
    "db.server-stop": ([], 0, "the embedded PostgreSQL is not running"),
    "db.upgrade-layout": ([], 5, "nothing was changed: run again with --yes to convert"),
    "db.upgrade-tracking": ([], 1, "migrations/ is not in Drizzle 1.0's folder layout"),  # convert it first
    "env.check": ([], 0, "ok   server version: PostgreSQL"),
    "legacy.retire": ([], 3, "FAIL no drift (db.check)"),  # the plan: the legacy file never ran here
}


def project(root: Path) -> Path:
    make_drizzle_folder(root, [("0000_items", "CREATE TABLE items (id int);")])
    (root / "pyproject.toml").write_text(
        '[project]\nname = "smoke"\nversion = "0"\n\n[tool.migrakit.app]\ndev = "{python} -c pass"\nbuild = "{python} -c pass"\n'
        '\n[tool.migrakit]\nlegacy_dir = "legacy"\n'
    )
    (root / "legacy").mkdir()
    (root / "legacy" / "001_settings.sql").write_text("CREATE TABLE settings (key text PRIMARY KEY);\n")
    (root / ".gitignore").write_text(".migrakit/\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=root, env={**GIT, "PATH": "/usr/bin:/bin"}, check=True, capture_output=True)
    return root


def test_every_task_has_a_smoke_test():
    assert set(TASKS) == set(ns.task_names)


@pytest.mark.parametrize("task", list(TASKS))
def test_the_console_script_runs_the_task(task, tmp_path, db_url, pg_server_url):
    args, code, line = TASKS[task]
    result = run_cli([task, *args], cwd=project(tmp_path), env={"DATABASE_URL": db_url, "MIGRAKIT_SHADOW_URL": pg_server_url, **GIT})
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == code, result.stdout + result.stderr
    assert line in result.stdout + result.stderr
