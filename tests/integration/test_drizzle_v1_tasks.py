"""Moving a project to Drizzle 1.0 through the task surface: plan first (exit 5), act with --yes (exit 0)."""

import json
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.fixtures.cli import run_in_process
from tests.fixtures.folders import make_drizzle_folder

BODIES = [
    ("0000_users", 'CREATE TABLE "users" ("id" serial PRIMARY KEY);'),
    ("0001_posts", 'CREATE TABLE "posts" ("id" serial PRIMARY KEY);\n--> statement-breakpoint\nCREATE INDEX ON "posts" ("id");'),
]


def migrakit(project: Path, db_url: str, *args: str) -> subprocess.CompletedProcess:
    return run_in_process(args, cwd=project, env={"DATABASE_URL": db_url, "NO_COLOR": "1"})


def columns(db_url: str) -> list[str]:
    with psycopg.connect(db_url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'drizzle' "
            "AND table_name = '__drizzle_migrations' ORDER BY ordinal_position"
        )]


def rows(db_url: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        cols = columns(db_url)
        extra = ", name, applied_at IS NULL" if "name" in cols else ""
        return conn.execute(f"SELECT id, hash, created_at{extra} FROM drizzle.__drizzle_migrations ORDER BY id").fetchall()


def test_journal_project_moves_to_drizzle1_layout_and_table(tmp_path, db_url):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    folder = make_drizzle_folder(tmp_path, BODIES)
    assert migrakit(tmp_path, db_url, "db.migrate").returncode == 0
    rows_0x = rows(db_url)

    plan = migrakit(tmp_path, db_url, "db.upgrade-layout")
    assert plan.returncode == 5, plan.stderr
    assert "would" in plan.stdout and "--yes" in plan.stdout
    assert (folder / "meta" / "_journal.json").is_file()

    done = migrakit(tmp_path, db_url, "db.upgrade-layout", "--yes")
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["20231114221320_users", "20231114221321_posts"]
    assert migrakit(tmp_path, db_url, "db.upgrade-layout", "--yes").returncode == 0  # nothing left to do

    status = migrakit(tmp_path, db_url, "db.status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "upgrade-tracking --yes" in status.stdout and "20231114221320_users" in status.stdout

    refused = migrakit(tmp_path, db_url, "db.migrate")
    assert refused.returncode == 5
    assert "--upgrade-tracking" in refused.stderr + refused.stdout
    shown = migrakit(tmp_path, db_url, "db.upgrade-tracking", "--json")
    assert shown.returncode == 5
    data = json.loads(shown.stdout)
    assert data["changed"] is False and data["schema_version"] == 1
    assert [(r["id"], r["name"], r["matched_by"]) for r in data["upgrade"]["rows"]] == [
        (1, "20231114221320_users", "created_at"),
        (2, "20231114221321_posts", "created_at"),
    ]
    assert columns(db_url) == ["id", "hash", "created_at"]  # still untouched

    applied = migrakit(tmp_path, db_url, "db.upgrade-tracking", "--yes")
    assert applied.returncode == 0, applied.stderr
    assert columns(db_url) == ["id", "hash", "created_at", "name", "applied_at"]
    assert rows(db_url) == [(*r, n, True) for r, n in zip(rows_0x, names)]
    assert migrakit(tmp_path, db_url, "db.upgrade-tracking", "--yes").returncode == 0  # nothing left to do

    again = migrakit(tmp_path, db_url, "db.migrate", "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout)["applied"] == []


def test_migrate_upgrade_tracking_upgrades_and_applies_new_folders_in_one_run(tmp_path, db_url):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    folder = make_drizzle_folder(tmp_path, BODIES)
    assert migrakit(tmp_path, db_url, "db.migrate").returncode == 0
    assert migrakit(tmp_path, db_url, "db.upgrade-layout", "--yes").returncode == 0
    (folder / "20240101000000_comments").mkdir()
    (folder / "20240101000000_comments" / "migration.sql").write_text('CREATE TABLE "comments" ("id" int);')
    result = migrakit(tmp_path, db_url, "db.migrate", "--upgrade-tracking", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["applied"] == ["20240101000000_comments"]
    assert [r[3:] for r in rows(db_url)] == [("20231114221320_users", True), ("20231114221321_posts", True), ("20240101000000_comments", False)]


def test_upgrade_tracking_refuses_rows_that_match_no_folder(tmp_path, db_url):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    folder = make_drizzle_folder(tmp_path, BODIES)
    assert migrakit(tmp_path, db_url, "db.migrate").returncode == 0
    assert migrakit(tmp_path, db_url, "db.upgrade-layout", "--yes").returncode == 0
    for p in folder.glob("*_posts"):
        (p / "migration.sql").rename(p / "gone.sql")  # the folder no longer counts
    result = migrakit(tmp_path, db_url, "db.upgrade-tracking", "--yes")
    assert result.returncode == 3
    assert "row id 2" in result.stderr
    assert columns(db_url) == ["id", "hash", "created_at"]
    assert migrakit(tmp_path, db_url, "db.status").returncode == 3


def test_upgrade_tracking_on_a_journal_folder_says_to_convert_first(tmp_path, db_url):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    make_drizzle_folder(tmp_path, BODIES)
    result = migrakit(tmp_path, db_url, "db.upgrade-tracking", "--yes")
    assert result.returncode == 1
    assert "db.upgrade-layout" in result.stderr


def test_migrate_upgrade_tracking_changes_nothing_when_a_file_was_edited(tmp_path, db_url):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    folder = make_drizzle_folder(tmp_path, BODIES)
    assert migrakit(tmp_path, db_url, "db.migrate").returncode == 0
    assert migrakit(tmp_path, db_url, "db.upgrade-layout", "--yes").returncode == 0
    with open(folder / "20231114221320_users" / "migration.sql", "a") as f:
        f.write("\n-- edited after it ran\n")
    result = migrakit(tmp_path, db_url, "db.migrate", "--upgrade-tracking")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "20231114221320_users" in result.stderr and "changed" in result.stderr
    assert columns(db_url) == ["id", "hash", "created_at"]  # refused before the table was touched
    plan = json.loads(migrakit(tmp_path, db_url, "db.upgrade-tracking", "--json").stdout)
    assert plan["upgrade"]["rows"][0]["hash_differs"] is True


def test_empty_drizzle0_table_with_a_v1_folder_is_upgraded_only_when_asked(tmp_path, db_url):
    from migrakit.errors import ConfirmationRequired
    from migrakit.sources.config import load_settings
    from migrakit.workflows.migrate import migrate

    folder = tmp_path / "migrations" / "20250101000000_first"
    folder.mkdir(parents=True)
    (folder / "migration.sql").write_text('CREATE TABLE "first" ("id" int);')
    with psycopg.connect(db_url, autocommit=True) as conn:  # what a failed first run of Drizzle 0.x leaves
        conn.execute("CREATE SCHEMA drizzle")
        conn.execute("CREATE TABLE drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)")
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder.parent))
    with pytest.raises(ConfirmationRequired) as info:
        migrate(settings)
    assert "upgrade-tracking" in (info.value.fix or "")
    assert columns(db_url) == ["id", "hash", "created_at"]
    report = migrate(settings, upgrade_tracking=True)
    assert (report.applied, report.tracking_upgraded) == (["20250101000000_first"], 0)
    assert [r[3:] for r in rows(db_url)] == [("20250101000000_first", False)]
