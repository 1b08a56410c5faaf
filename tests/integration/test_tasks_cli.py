"""The Invoke surface end to end: a throwaway project importing migrakit's collections, `inv build`, --json."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.fixtures.folders import make_drizzle_folder

BIN = Path(sys.executable).parent


def make_project(tmp_path: Path, migrations) -> Path:
    make_drizzle_folder(tmp_path, migrations)
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [project]
            name = "someapp"
            version = "0"

            [tool.migrakit.app]
            build = "{python} app.py"
            """
        )
    )
    (tmp_path / "tasks.py").write_text(
        textwrap.dedent(
            """
            from invoke import Collection, task
            from migrakit.tasks import build, db, env

            @task
            def hello(c):
                print("hello from the project's own task")

            ns = Collection(db, env, build, hello)
            """
        )
    )
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            """
            import os, pathlib, psycopg
            with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
                n = conn.execute("SELECT count(*) FROM items").fetchone()[0]
            pathlib.Path("app-ran").write_text(str(n))
            print(f"app saw {n} items")
            """
        )
    )
    return tmp_path


def inv(project: Path, db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url, "NO_COLOR": "1"}
    return subprocess.run([str(BIN / "inv"), *args], cwd=project, env=env, capture_output=True, text=True, timeout=120)


def test_a_project_imports_the_collections_and_builds(tmp_path, db_url):
    project = make_project(tmp_path, [("0000_items", "CREATE TABLE items (id int);\nINSERT INTO items VALUES (1), (2);")])
    listing = inv(project, db_url, "--list")
    for name in ("db.migrate", "db.status", "db.generate", "env.check", "build", "hello"):
        assert name in listing.stdout
    result = inv(project, db_url, "build")
    assert result.returncode == 0, result.stderr
    assert "applied 1 migration(s): 0000_items" in result.stdout
    assert "app saw 2 items" in result.stdout
    assert (project / "app-ran").read_text() == "2"


def test_build_stops_before_the_app_when_a_migration_fails(tmp_path, db_url):
    project = make_project(
        tmp_path, [("0000_items", "CREATE TABLE items (id int);"), ("0001_bad", "ALTER TABLE nope ADD COLUMN x int;")]
    )
    result = inv(project, db_url, "build")
    assert result.returncode == 1
    assert "migration 0001_bad failed" in result.stderr
    assert "fix:" in result.stderr
    assert not (project / "app-ran").exists()


def test_json_outputs_parse_and_carry_the_same_facts_as_the_tables(tmp_path, db_url):
    project = make_project(tmp_path, [("0000_items", "CREATE TABLE items (id int);"), ("0001_more", "CREATE TABLE more (id int);")])
    dry = inv(project, db_url, "db.migrate", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    data = json.loads(dry.stdout)
    assert data["dry_run"] is True
    assert data["pending"] == ["0000_items", "0001_more"]
    assert [m["tag"] for m in data["planned"]] == ["0000_items", "0001_more"]
    assert data["planned"][0]["statements"][0]["sql"] == "CREATE TABLE items (id int)"
    assert inv(project, db_url, "db.migrate").returncode == 0
    status_json = json.loads(inv(project, db_url, "db.status", "--json").stdout)
    table = inv(project, db_url, "db.status").stdout
    for m in status_json["migrations"]:
        assert m["state"] == "applied"
        line = next(l for l in table.splitlines() if l.startswith(m["tag"]))
        assert m["hash"][:12] in line and "applied" in line and str(m["when"]) in line
    assert status_json["pending"] == []


def test_errors_print_in_full_without_a_tty_and_never_the_password(tmp_path, pg_server_url):
    project = make_project(tmp_path, [("0000_items", "CREATE TABLE items (id int);")])
    url = "postgresql://someone:hunter2secret@127.0.0.1:9/nowhere"
    result = inv(project, url, "db.migrate")
    assert result.returncode == 6
    assert "hunter2secret" not in result.stdout + result.stderr
    assert "fix:" in result.stderr and "127.0.0.1" in result.stderr


def test_migrakit_console_script_works_without_a_tasks_file(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_t", "CREATE TABLE t (id int);")])
    result = subprocess.run(
        [str(BIN / "migrakit"), "db.migrate", "--database-url", db_url, "--migrations-dir", str(folder)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "applied 1 migration(s): 0000_t" in result.stdout
