"""The `migrakit` console script keeps --help, --version, --list, --complete and -d/--debug, and refuses Invoke's
execution flags (exit 2, naming the task option meant) before anything runs; `inv --dry` is refused by the
tasks themselves (it would not be a dry run)."""

from __future__ import annotations

import psycopg
import pytest

from migrakit import __version__
from tests.fixtures.cli import migrate_args, run_cli, run_in_process
from tests.fixtures.folders import make_drizzle_folder

GOOD = ("0000_good", "CREATE TABLE good (id int);")


def tracking_exists(db_url: str) -> bool:
    with psycopg.connect(db_url) as conn:
        return bool(conn.execute("SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL").fetchone()[0])


def test_migrakit_dry_is_an_error_that_names_dry_run_and_never_applies(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    for args in (["--dry", *migrate_args(db_url, folder)], ["-R", *migrate_args(db_url, folder)],
                 [*migrate_args(db_url, folder), "--dry"]):  # fmt: skip
        result = run_in_process(args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout + result.stderr)
        assert "--dry-run" in result.stderr and "is not a migrakit option" in result.stderr
        assert not tracking_exists(db_url)
    result = run_cli(["--dry", *migrate_args(db_url, folder)], cwd=tmp_path)  # the real console script
    assert result.returncode == 2 and "--dry-run" in result.stderr and "Traceback" not in result.stderr
    assert not tracking_exists(db_url)


@pytest.mark.parametrize(
    "flag", ["--pty", "-p", "--warn-only", "-w", "--echo", "-e", "--hide=both", "--prompt-for-sudo-password",
             "--command-timeout=5", "-T", "--config=x.yaml", "-f"],
)  # fmt: skip
def test_invokes_execution_flags_are_refused(tmp_path, flag):
    result = run_in_process([flag, "db.status"], cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "does not take" in result.stderr and "Traceback" not in result.stderr


def test_help_version_list_and_complete_are_kept_and_help_lists_no_execution_flag(tmp_path):
    help_text = run_in_process(["--help"], cwd=tmp_path)
    assert help_text.returncode == 0
    for kept in ("--help", "--version", "--list", "--complete", "--debug"):
        assert kept in help_text.stdout
    for dropped in ("--dry", "--pty", "--warn-only", "--echo", "--hide", "--prompt-for-sudo-password", "--config"):
        assert dropped not in help_text.stdout
    version = run_in_process(["--version"], cwd=tmp_path)
    assert version.returncode == 0 and __version__ in version.stdout
    listing = run_in_process(["--list"], cwd=tmp_path)
    assert listing.returncode == 0 and "db.migrate" in listing.stdout
    complete = run_in_process(["--complete", "--", "db.mig"], cwd=tmp_path)
    assert complete.returncode == 0 and "db.migrate" in complete.stdout
    task_help = run_in_process(["--help", "db.migrate"], cwd=tmp_path)
    assert task_help.returncode == 0 and "--dry-run" in task_help.stdout and "--allow-empty" in task_help.stdout


def test_debug_is_kept_and_the_task_still_runs(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    result = run_cli(["-d", *migrate_args(db_url, folder)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "invoke.parser" in result.stderr and tracking_exists(db_url)


def test_inv_dry_is_refused_by_the_tasks_because_it_would_migrate(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    result = run_in_process(["--dry", *migrate_args(db_url, folder)], cwd=tmp_path, program="inv")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not a dry run" in result.stderr and "--dry-run" in result.stderr
    assert not tracking_exists(db_url)
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path, env={"INVOKE_RUN_DRY": "1"}, program="inv")
    assert result.returncode == 2 and not tracking_exists(db_url), result.stderr
    result = run_in_process(migrate_args(db_url, folder, "--dry-run"), cwd=tmp_path, program="inv")
    assert result.returncode == 0 and not tracking_exists(db_url), result.stderr  # the task's own dry run


def _pyc_run(tmp_path, args, **extra):
    import subprocess

    from tests.fixtures.cli import MIGRAKIT, cli_env

    env = {k: v for k, v in cli_env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra, PYTHONPYCACHEPREFIX=str(tmp_path / "pyc"))
    return subprocess.run([str(MIGRAKIT), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def _cached(tmp_path, module_file: str) -> bool:
    return any((tmp_path / "pyc").rglob(module_file.replace(".py", ".cpython-*.pyc")))


def test_python_bytecode_cache_is_left_as_python_sets_it(tmp_path, db_url):
    """Invoke turns the bytecode cache off (unless --write-pyc); migrakit keeps Python's setting, so that the modules
    a task imports are compiled once (db.status on 10,000 migrations: ~0.3 s per run without it)."""
    folder = make_drizzle_folder(tmp_path, [GOOD])
    status = ["db.status", "--migrations-dir", str(folder), "--database-url", db_url]
    result = _pyc_run(tmp_path, status, PYTHONDONTWRITEBYTECODE="1")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "pyc").exists()  # PYTHONDONTWRITEBYTECODE still means what it says
    result = _pyc_run(tmp_path, status)
    assert result.returncode == 0, result.stderr
    assert _cached(tmp_path, "planner.py") and _cached(tmp_path, "status.py")  # imported inside the task


def test_readme_names_every_core_option_that_help_shows(tmp_path):
    """Issue 25.10: README's console-script paragraph lists what `migrakit --help` offers, no fewer."""
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    paragraph = readme[readme.index("The console script keeps"):].split("\n\n", 1)[0]
    core = run_in_process(["--help"], cwd=tmp_path).stdout.split("Core options:")[1].split("Subcommands:")[0]
    shown = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", core))
    assert shown >= {"--help", "--version", "--list", "--complete", "--debug", "--write-pyc"}
    assert sorted(f for f in shown if f"`{f}`" not in paragraph and f"/{f}`" not in paragraph) == []
