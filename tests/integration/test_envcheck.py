"""env.check: every check runs, each failure comes with its fix, the exit code names the kind of failure."""

import json
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

from migrakit.errors import DatabaseUnavailable
from migrakit.sources.config import load_settings
from migrakit.workflows import env_check as envcheck
from migrakit.workflows.migrate import migrate
from tests.fixtures.cli import run_in_process
from tests.fixtures.folders import make_drizzle_folder


def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    make_drizzle_folder(tmp_path, [("0000_items", "CREATE TABLE items (id int);\n--> statement-breakpoint\nCREATE INDEX ON items (id);")])
    return tmp_path


def migrakit(cwd: Path, db_url: str, *args: str) -> subprocess.CompletedProcess:
    return run_in_process(args, cwd=cwd, env={"DATABASE_URL": db_url, "NO_COLOR": "1"})


def test_a_ready_environment_passes_every_check(tmp_path, db_url):
    root = project(tmp_path)
    result = migrakit(root, db_url, "env.check")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok   database url: $DATABASE_URL = postgresql://")
    assert lines[1].startswith("ok   database reachable: ")
    assert lines[2].startswith("ok   server version: PostgreSQL ")
    assert "does not exist yet (db.migrate creates it" in lines[3]
    assert lines[4] == "ok   migration folders: 1 in migrations/ (journal layout), readable and splittable"

    migrate(load_settings(root, env={}, database_url=db_url))
    data = json.loads(migrakit(root, db_url, "env.check", "--json").stdout)
    assert data["ok"] and {c["name"]: c["found"] for c in data["checks"]}["tracking table"].endswith("readable, 1 row(s)")


def test_every_failure_is_listed_with_its_fix_and_the_password_is_not_printed(tmp_path, pg_server_url):
    root = project(tmp_path)
    (root / "migrations" / "meta" / "_journal.json").write_text('{"version": "7", "entries": [')  # truncated
    unreachable = "postgresql://app:s3cret-pw@127.0.0.1:1/app?connect_timeout=2"
    result = migrakit(root, unreachable, "env.check")
    assert result.returncode == DatabaseUnavailable.exit_code == 6
    err = result.stderr
    assert "2 check(s) failed (database reachable, migration folders)" in err
    assert "FAIL database reachable: cannot connect" in err
    assert "FAIL migration folders: journal is not valid JSON" in err
    assert err.count("fix: ") >= 3  # one per failed check, plus the summary's
    assert "restore the file from git" in err
    assert "s3cret-pw" not in err + result.stdout


def test_a_malformed_url_is_a_configuration_error(tmp_path):
    root = project(tmp_path)
    result = migrakit(root, "postgresql://app@localhost/db?no_such_option=1", "env.check")
    assert result.returncode == 2, result.stderr
    # refused when the settings load, before any check runs (config.py), naming the parameter
    assert "database_url (environment variable DATABASE_URL) has a connection parameter libpq does not know: 'no_such_option'" in result.stderr
    assert "remove no_such_option" in result.stderr


def test_an_unreadable_tracking_table_names_the_grant(tmp_path, db_url):
    root = project(tmp_path)
    migrate(load_settings(root, env={}, database_url=db_url))
    role = f"limited_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        params = {**psycopg.conninfo.conninfo_to_dict(db_url), "user": role}
        params.pop("password", None)
        limited = psycopg.conninfo.make_conninfo(**params)
        try:
            psycopg.connect(limited).close()
        except psycopg.OperationalError:
            pytest.skip("the test server does not let a new role log in without a password")
        with pytest.raises(DatabaseUnavailable) as info:
            envcheck.check_environment(load_settings(root, env={}, database_url=limited))
        assert "tracking table" in info.value.message
        assert "GRANT USAGE ON SCHEMA \"drizzle\"" in (info.value.fix or "")
        assert any(line.startswith("ok   database reachable") for line in info.value.details)
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")
            conn.execute(f'DROP ROLE "{role}"')


def test_the_folders_check_names_the_configured_folders_where_they_are(tmp_path, db_url):
    """Issue 25.10: a folder elsewhere (db/migrations, db/legacy) is named as configured, not as `migrations/`."""
    from tests.fixtures.cli import run_in_process

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.migrakit]\nmigrations_dir = "db/migrations"\nlegacy_dir = "db/old"\n')
    make_drizzle_folder(tmp_path / "db", [("0000_items", "CREATE TABLE items (id int);")])
    (tmp_path / "db" / "old").mkdir()
    (tmp_path / "db" / "old" / "001_x.sql").write_text("CREATE TABLE x (id int);\n")
    result = run_in_process(["env.check"], cwd=tmp_path, env={"DATABASE_URL": db_url})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   migration folders: 1 in db/migrations/ (journal layout), readable and splittable; 1 legacy file(s) " \
        "in db/old/" in result.stdout, result.stdout
