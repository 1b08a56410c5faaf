"""db.status reads the migration files while a second thread connects and reads the tracking rows
(db/connect/session.open_target_reading). Its errors stay those of reading the files first and connecting afterwards:
a folder error wins over a database that cannot be reached, the connection opened meanwhile is closed, and an
error of the read itself is the same documented error as when it ran on the main thread. No traceback."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate
from tests.fixtures.cli import run_in_process
from tests.fixtures.folders import make_drizzle_folder
from tests.integration.test_bad_input import with_user

GOOD = [("0000_a", "CREATE TABLE a (id int);"), ("0001_b", "CREATE TABLE b (id int);")]
UNREACHABLE = "postgresql://app:S3cret-pw@127.0.0.1:1/app"  # nothing listens on port 1


def status(folder, url, cwd):
    result = run_in_process(["db.status", "--migrations-dir", str(folder), "--database-url", url], cwd=cwd)
    out = result.stdout + result.stderr
    assert "Traceback" not in out and "S3cret-pw" not in out, out
    return result.returncode, out


def migrakit_sessions(db_url: str) -> int:
    """migrakit's sessions on db_url's database, once the backends of closed connections have gone (up to 5 s)."""
    deadline = time.monotonic() + 5
    with psycopg.connect(db_url, autocommit=True) as conn:
        while True:
            (n,) = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'migrakit'"
            ).fetchone()
            if n == 0 or time.monotonic() > deadline:
                return int(n)
            time.sleep(0.05)


def test_a_broken_journal_wins_over_an_unreachable_database(tmp_path):
    folder = make_drizzle_folder(tmp_path, GOOD)
    (folder / "meta" / "_journal.json").write_text('{"version": "7", "entries": [')
    code, out = status(folder, UNREACHABLE, tmp_path)
    assert code == 1, out
    assert "journal is not valid JSON" in out and "nothing was run" in out
    assert "cannot connect" not in out and "unreachable" not in out


def test_a_good_folder_and_an_unreachable_database_is_the_connect_error(tmp_path):
    folder = make_drizzle_folder(tmp_path, GOOD)
    code, out = status(folder, UNREACHABLE, tmp_path)
    assert code == 6, out
    assert "error: cannot connect to postgresql://app:***@127.0.0.1:1/app: the server is unreachable" in out


def test_a_file_error_closes_the_connection_opened_meanwhile(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, GOOD)
    migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder)))
    (folder / "0001_b.sql").write_bytes("-- caf\xe9\nCREATE TABLE b (id int);".encode("latin-1"))
    code, out = status(folder, db_url, tmp_path)
    assert code == 1, out
    assert "0001_b.sql" in out and "not valid UTF-8" in out
    assert migrakit_sessions(db_url) == 0  # the second thread's connection did not outlive the command


@pytest.fixture
def no_grants_role(pg_server_url, db_url):
    name = f"mk_ovl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN")
    yield with_user(db_url, name, None)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {name}")
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE {name}")


def test_an_error_of_the_read_is_the_documented_one(tmp_path, db_url, no_grants_role):
    folder = make_drizzle_folder(tmp_path, GOOD)
    migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder)))
    code, out = status(folder, no_grants_role, tmp_path)
    assert code == 6, out
    assert 'error: the database role may not read the tracking table "drizzle"."__drizzle_migrations"' in out
    assert "permission denied for schema drizzle" in out and "GRANT USAGE ON SCHEMA" in out
    assert migrakit_sessions(db_url) == 0


def test_the_rows_read_meanwhile_are_planned(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, GOOD[:1])
    migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder)))
    more = make_drizzle_folder(tmp_path / "more", GOOD)
    code, out = status(more, db_url, tmp_path)
    assert code == 0, out
    assert "1 applied, 1 pending" in out
    assert migrakit_sessions(db_url) == 0
