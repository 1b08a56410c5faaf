"""Issue 25.4: every hint names the program the user ran: `migrakit db.x` under the console script, `inv db.x`
under inv, `inv migrations.x` where a project mounted migrakit's `db` collection as `migrations` (in errors' fixes
and in reports, text and JSON). tasks/_run.py retargets what it prints (tasks/_program.retarget)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.fixtures.cli import cli_env, migrate_args, mounted_collection, run_in_process
from tests.fixtures.folders import make_drizzle_folder

GOOD = ("0000_good", "CREATE TABLE good (id int);")
BAD = ("0001_bad", "SELEC 1;")  # a syntax error: its fix says to run db.migrate again


@pytest.mark.parametrize("program", ["migrakit", "inv"])
def test_a_fix_names_the_program_the_user_ran(tmp_path, db_url, program):
    folder = make_drizzle_folder(tmp_path, [GOOD, BAD])
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path, program=program)
    assert result.returncode == 1, result.stderr
    assert f"run `{program} db.migrate` again" in result.stderr, result.stderr
    other = "inv" if program == "migrakit" else "migrakit"
    assert f"{other} db." not in result.stderr
    doc = json.loads(run_in_process(migrate_args(db_url, folder, "--json"), cwd=tmp_path, program=program).stdout)
    assert f"`{program} db.migrate`" in doc["error"]["fix"]


def test_a_fix_names_the_task_where_the_project_mounted_it(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD, BAD])
    args = ["migrations.migrate", "--migrations-dir", str(folder), "--database-url", db_url]
    result = run_in_process(args, cwd=tmp_path, program="inv", namespace=mounted_collection())
    assert result.returncode == 1, result.stderr
    assert "run `inv migrations.migrate` again" in result.stderr and "inv db." not in result.stderr, result.stderr


def test_a_reports_hint_names_the_program_too(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    result = run_in_process(["db.generate", "--custom", "x", "--migrations-dir", str(folder)], cwd=tmp_path)
    assert result.returncode == 0 and "next: review the SQL, then `migrakit db.migrate`" in result.stdout, result.stdout


def test_after_a_cli_run_a_library_call_keeps_migrakits_own_names(tmp_path):
    from migrakit.tasks import _program

    run_in_process(["db.migrat"], cwd=tmp_path)
    assert _program.retarget("run `inv db.migrate` again") == "run `inv db.migrate` again"


def test_inv_itself_names_the_projects_task_in_a_fix(tmp_path, db_url):
    """The one subprocess run: Invoke's own `inv` binary on a tasks.py that mounted migrakit's db collection as
    `migrations` (Invoke deep-copies the tasks: they are matched by their functions)."""
    (tmp_path / "tasks.py").write_text(textwrap.dedent("""
        from invoke import Collection
        from migrakit.tasks import db

        ns = Collection()
        ns.add_collection(db, "migrations")
    """))
    folder = make_drizzle_folder(tmp_path, [GOOD, BAD])
    inv = os.path.join(os.path.dirname(sys.executable), "inv")
    args = [inv, "migrations.migrate", "--migrations-dir", str(folder), "--database-url", db_url]
    failed = subprocess.run(args, cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1 and "run `inv migrations.migrate` again" in failed.stderr, failed.stderr
