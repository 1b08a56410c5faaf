"""`inv dev` / `inv build` check the app command BEFORE migrating: a missing or unrunnable one exits 2 and the database
is left untouched (no tracking table, no migration applied)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import psycopg
import pytest

from tests.fixtures.cli import run_in_process
from tests.fixtures.folders import make_drizzle_folder


def project(tmp_path: Path, app: dict[str, str]) -> Path:
    make_drizzle_folder(tmp_path, [("0000_items", "CREATE TABLE items (id int);")])
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in app.items())  # a JSON string is a TOML string
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent('[project]\nname = "someapp"\nversion = "0"\n\n') + (f"[tool.migrakit.app]\n{lines}\n" if app else "")
    )
    return tmp_path


def untouched(db_url: str) -> bool:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT to_regclass('drizzle.__drizzle_migrations') IS NULL AND to_regclass('public.items') IS NULL"
        ).fetchone()[0]


@pytest.mark.parametrize("which", ["build", "dev"])
def test_no_app_command_exits_2_before_touching_the_database(tmp_path, db_url, which):
    result = run_in_process([which], cwd=project(tmp_path, {}), env={"DATABASE_URL": db_url})
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"no app command configured for '{which}'" in result.stderr
    assert "fix:" in result.stderr and f"set [tool.migrakit.app] {which} = " in result.stderr
    assert "the database was not touched" in result.stderr
    assert "applying" not in result.stdout and "Traceback" not in result.stderr
    assert untouched(db_url)


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("no-such-program-mk42 --serve", "'no-such-program-mk42': not found on PATH"),
        ("PORT=8000 DEBUG=1 no-such-program-mk42", "'no-such-program-mk42': not found on PATH"),
        ("./bin/missing-server --port 1", "'./bin/missing-server': no such file"),
        ("./pyproject.toml", "'./pyproject.toml': not an executable file"),
    ],
)
def test_an_app_command_whose_program_cannot_run_exits_2_before_migrating(tmp_path, db_url, command, problem):
    result = run_in_process(["build"], cwd=project(tmp_path, {"build": command}), env={"DATABASE_URL": db_url})
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"the app command for 'build' cannot run: {problem}" in result.stderr
    assert "fix:" in result.stderr and "Traceback" not in result.stderr
    assert untouched(db_url)


def test_an_unparseable_app_command_exits_2(tmp_path, db_url):
    result = run_in_process(["dev"], cwd=project(tmp_path, {"dev": "{python} -c 'print(1)"}), env={"DATABASE_URL": db_url})
    assert result.returncode == 2
    assert "is not a valid shell command" in result.stderr and "No closing quotation" in result.stderr
    assert untouched(db_url)


def test_a_runnable_app_command_migrates_then_runs(tmp_path, db_url):
    """The check lets through what runs: assignments before the program, {python}, a program on PATH."""
    command = "GREETING=hi {python} -c \"import os; print('app says', os.environ['GREETING'])\""
    result = run_in_process(["build"], cwd=project(tmp_path, {"build": command}), env={"DATABASE_URL": db_url})
    assert result.returncode == 0, result.stderr
    assert "applied 1 migration(s): 0000_items" in result.stdout
    assert "app says hi" in result.stdout
    assert result.stdout.index("applied 1 migration") < result.stdout.index("app says hi")
    assert not untouched(db_url)
