"""A folder db.lint --fix rewrote is a normal folder to Drizzle 0.x's own migrator: it applies the transactional
pieces (NOT VALID, VALIDATE, SET NOT NULL through a check) itself, and after migrakit ran the CONCURRENTLY pieces
(which Drizzle's one transaction cannot run) it finds nothing left to apply."""

import json
from pathlib import Path

import pytest

from migrakit.db.connect import server
from migrakit.db.inspect import schema_diff as schema
from migrakit.sources.config import load_settings
from migrakit.workflows import lint as lint_workflow
from migrakit.workflows.migrate import migrate
from tests.fixtures.folders import add_migration, add_v1_migration, make_drizzle_folder
from tests.fixtures.gitrepo import commit_all, new_project_repo
from tests.interop.drizzle import drizzle_migrate, tracking_rows

pytestmark = pytest.mark.interop

BASE = [("0000_users", "CREATE TABLE users (id int PRIMARY KEY, email text, age int);")]
TRANSACTIONAL = [
    ("0001_checks", "ALTER TABLE users ADD CONSTRAINT users_age_check CHECK (age >= 0);\n--> statement-breakpoint\n"
     "ALTER TABLE users ALTER COLUMN email SET NOT NULL;"),
    ("0002_nick", "ALTER TABLE users ADD COLUMN nick text;"),
]  # fmt: skip
CONCURRENT = [("0001_email_idx", "CREATE INDEX users_email_idx ON users (email);")]


def fixed_folder(tmp_path: Path, feature: list[tuple[str, str]], url: str, shadow: str) -> Path:
    repo = new_project_repo(tmp_path)
    folder = make_drizzle_folder(tmp_path, BASE)
    (folder / "meta" / "0000_snapshot.json").write_text(json.dumps({"id": "s0", "prevId": "none"}))
    commit_all(repo, "base")
    repo.git.checkout("-b", "feature")
    for tag, body in feature:
        add_migration(folder, tag, body)
    commit_all(repo, "feature")
    settings = load_settings(tmp_path, env={}, database_url=url, migrations_dir="migrations", shadow_url=shadow)
    migrate(settings, to="0000_users")
    with server.connect(url, autocommit=True) as conn:
        conn.execute(b"INSERT INTO users SELECT g, 'u' || g, g FROM generate_series(1, 20000) g; ANALYZE users")
    assert lint_workflow.fix(settings, yes=True).written
    return folder


def test_drizzle_applies_a_fixed_folder_and_gets_migrakits_schema(tmp_path, db_url, pg_server_url):
    folder = fixed_folder(tmp_path, TRANSACTIONAL, db_url, pg_server_url)
    with server.shadow_database(pg_server_url) as by_drizzle:
        assert drizzle_migrate(folder, by_drizzle, major=0) == {"ok": True}
        assert len(tracking_rows(by_drizzle)) == len(json.loads((folder / "meta" / "_journal.json").read_text())["entries"])
        migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder)))
        assert schema.diff_statements(db_url, by_drizzle) == []


def test_after_migrakit_ran_a_fixed_concurrent_index_drizzle_applies_nothing(tmp_path, db_url, pg_server_url):
    folder = fixed_folder(tmp_path, CONCURRENT, db_url, pg_server_url)
    assert (folder / "0001_email_idx.sql").read_text().startswith("CREATE INDEX CONCURRENTLY")
    applied = migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder))).applied
    assert applied == ["0001_email_idx"]
    before = tracking_rows(db_url)
    assert drizzle_migrate(folder, db_url, major=0) == {"ok": True}
    assert tracking_rows(db_url) == before


def test_drizzle_v1_reads_a_fixed_v1_folder_after_migrakit_and_applies_nothing(tmp_path, db_url, pg_server_url):
    repo = new_project_repo(tmp_path)
    folder = tmp_path / "migrations"
    add_v1_migration(folder, "20250101000000_users", BASE[0][1], "s0", "none")
    commit_all(repo, "base")
    repo.git.checkout("-b", "feature")
    add_v1_migration(folder, "20250102000000_checks", TRANSACTIONAL[0][1], "s1", "s0")
    commit_all(repo, "feature")
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir="migrations", shadow_url=pg_server_url)
    migrate(settings, to="20250101000000_users")
    assert lint_workflow.fix(settings, yes=True).written
    assert len(migrate(settings).applied) == 3  # the CHECK NOT VALID, its VALIDATE, SET NOT NULL through a check
    before = tracking_rows(db_url)
    assert drizzle_migrate(folder, db_url, major=1) == {"ok": True}
    assert tracking_rows(db_url) == before
