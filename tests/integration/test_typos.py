"""Issue 25.3: a typo in a task or option name exits 2 (not 1, a failed migration's code) naming the closest
names, under the `migrakit` console script and under `inv`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.fixtures.cli import cli_env, mounted_collection, run_in_process


@pytest.mark.parametrize("program", ["migrakit", "inv"])
@pytest.mark.parametrize(
    "args, says",
    [
        (["db.migrat"], "error: unknown task 'db.migrat'\n  fix:    did you mean `{p} db.migrate`"),
        (["db.stauts", "--json"], "did you mean `{p} db.status`"),
        (["db.migrate", "--dryrun"], "error: unknown option '--dryrun' for db.migrate\n  fix:    did you mean --dry-run?"),
        (["db.status", "--jsno"], "did you mean --json? (`{p} --help db.status` lists its options)"),
        (["--lsit"], "error: unknown option '--lsit'\n  fix:    did you mean --list?"),
        (["--help", "db.migrat"], "did you mean `{p} db.migrate`"),
        (["nothing-like-it"], "error: unknown task 'nothing-like-it'\n  fix:    (`{p} --list` lists every task)"),
        (["db.migrate", "--to"], "needed value and was not given one"),
    ],
)
def test_a_typo_exits_2_naming_the_closest_names(tmp_path, program, args, says):
    result = run_in_process(args, cwd=tmp_path, program=program)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert says.format(p=program) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "No idea what" not in result.stderr


def test_under_inv_the_suggestions_use_the_projects_names(tmp_path):
    result = run_in_process(["migrations.migrat"], cwd=tmp_path, program="inv", namespace=mounted_collection())
    assert result.returncode == 2 and "did you mean `inv migrations.migrate`" in result.stderr, result.stderr


def test_inv_itself_adopts_the_rules_when_a_tasks_py_imports_migrakits_collections(tmp_path):
    """The one subprocess run: Invoke's own `inv` binary, a project's tasks.py mounting migrakit's db collection
    under another name; importing migrakit's collections adopts the running `inv` (tasks/_program.py)."""
    (tmp_path / "tasks.py").write_text(textwrap.dedent("""
        from invoke import Collection
        from migrakit.tasks import db

        ns = Collection()
        ns.add_collection(db, "migrations")
    """))
    inv = os.path.join(os.path.dirname(sys.executable), "inv")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([inv, *args], cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=120)

    typo = run("migrations.migrat")
    assert typo.returncode == 2 and "did you mean `inv migrations.migrate`" in typo.stderr, typo.stderr
    option = run("migrations.migrate", "--dryrun")
    assert option.returncode == 2 and "did you mean --dry-run?" in option.stderr, option.stderr
