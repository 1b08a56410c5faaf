"""db.check: the live schema against what the migrations produce, on a real PostgreSQL."""

import json
import subprocess
from pathlib import Path

import psycopg

from migrakit.core import differences
from migrakit.db.connect import server
from migrakit.errors import DriftError
from migrakit.render.check import render_check
from migrakit.sources.config import load_settings
from migrakit.workflows import check as drift
from migrakit.workflows.migrate import migrate
from tests.fixtures.cli import run_in_process
from tests.fixtures.folders import make_drizzle_folder

MIGRATIONS = [
    ("0000_accounts", 'CREATE TABLE "accounts" ("id" serial PRIMARY KEY, "email" text NOT NULL);'),
    (
        "0001_projects",
        'CREATE TABLE "projects" ("id" serial PRIMARY KEY, "account_id" integer NOT NULL REFERENCES "accounts"("id"), '
        '"name" text NOT NULL);\n--> statement-breakpoint\nCREATE INDEX "projects_account_idx" ON "projects" ("account_id");',
    ),
]


def project(tmp_path: Path, db_url: str, shadow_url: str):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    folder = make_drizzle_folder(tmp_path, MIGRATIONS)
    return load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder), shadow_url=shadow_url)


def migrakit(cwd: Path, db_url: str, shadow_url: str, *args: str) -> subprocess.CompletedProcess:
    return run_in_process(args, cwd=cwd, env={"DATABASE_URL": db_url, "MIGRAKIT_SHADOW_URL": shadow_url, "NO_COLOR": "1"})


def database_names(admin_url: str) -> set[str]:
    with server.connect(admin_url) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def test_a_migrated_database_has_no_drift(tmp_path, db_url, pg_server_url, monkeypatch):
    settings = project(tmp_path, db_url, pg_server_url)
    migrate(settings)
    made: list[str] = []  # the shadows this check creates, by name: other xdist workers may share the server
    real_create = server.create_database
    monkeypatch.setattr(server, "create_database", lambda url, name, **kw: made.append(name) or real_create(url, name, **kw))
    report = drift.check(settings)
    assert not report.drifted and report.diff.equal
    assert made and not set(made) & database_names(pg_server_url)  # the shadow was made, and dropped
    result = migrakit(tmp_path, db_url, pg_server_url, "db.check")
    assert result.returncode == 0, result.stderr
    assert "no drift" in result.stdout


def test_a_column_changed_by_hand_is_named_and_exits_with_the_drift_code(tmp_path, db_url, pg_server_url):
    settings = project(tmp_path, db_url, pg_server_url)
    migrate(settings)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('ALTER TABLE "projects" ALTER COLUMN "name" TYPE varchar(40)')

    report = drift.check(settings)
    assert report.drifted
    [difference] = report.diff.differences
    assert difference.object == 'column "public"."projects"."name"'
    assert difference.kind == differences.CHANGED
    assert difference.expected == '"name" text not null'
    assert difference.actual == '"name" character varying(40) not null'
    assert difference.sql == ('alter table "public"."projects" alter column "name" set data type text using "name"::text;',)

    result = migrakit(tmp_path, db_url, pg_server_url, "db.check")
    assert result.returncode == DriftError.exit_code == 3
    assert 'column "public"."projects"."name": differs' in result.stdout
    assert "character varying(40)" in result.stdout

    as_json = migrakit(tmp_path, db_url, pg_server_url, "db.check", "--json")
    assert as_json.returncode == 3
    data = json.loads(as_json.stdout)
    assert data["ok"] is False and data["drift"] is True
    assert data["differences"][0]["object"] == 'column "public"."projects"."name"'
    assert data["differences"][0]["migrations_produce"] == '"name" text not null'
    assert difference.sql[0] in data["reconcile_sql"]  # results' whole script also re-creates the FK around it

    # the reconciling SQL really reconciles
    with psycopg.connect(db_url, autocommit=True) as conn:
        for statement in report.diff.statements:
            conn.execute(statement.encode())
    assert not drift.check(settings).drifted


def test_missing_and_extra_objects_and_tracking_problems_are_reported(tmp_path, db_url, pg_server_url):
    settings = project(tmp_path, db_url, pg_server_url)
    migrate(settings)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('DROP INDEX "projects_account_idx"')
        conn.execute("CREATE TABLE handmade (id int)")
    (settings.migrations_dir / "0000_accounts.sql").write_text(MIGRATIONS[0][1] + "\n-- edited after it ran\n")

    report = drift.check(settings)
    kinds = {(d.object, d.kind) for d in report.diff.differences}
    assert ('index "public"."projects_account_idx"', differences.MISSING) in kinds
    assert ('table "public"."handmade"', differences.EXTRA) in kinds
    assert [p.kind for p in report.plan.blocking] == ["edited"]
    text = render_check(report)
    assert "problem: 0000_accounts was applied" in text
    assert 'drop table "public"."handmade";' in text


def test_an_unmigrated_database_shows_what_is_pending(tmp_path, db_url, pg_server_url):
    settings = project(tmp_path, db_url, pg_server_url)
    report = drift.check(settings)
    assert report.drifted
    assert {d.object for d in report.diff.differences} >= {'table "public"."accounts"', 'table "public"."projects"'}
    assert any("2 migration(s) are pending" in n for n in report.notes)


def test_each_difference_names_the_migration_that_creates_it(tmp_path, db_url, pg_server_url):
    settings = project(tmp_path, db_url, pg_server_url)
    migrate(settings)
    with psycopg.connect(db_url) as conn:  # changes made by hand
        conn.execute('DROP INDEX "projects_account_idx"')
        conn.execute('ALTER TABLE "accounts" DROP COLUMN "email"')
        conn.execute('CREATE TABLE "notes_by_hand" ("id" int)')
    report = drift.check(settings)
    assert report.drifted
    assert report.made_by == {
        'index "public"."projects_account_idx"': "migrations/0001_projects.sql (creates it; migration, tracked as run here)",
        'column "public"."accounts"."email"': "migrations/0000_accounts.sql (creates it; migration, tracked as run here)",
        'table "public"."notes_by_hand"': "no migration or legacy file creates it",
    }
    text = render_check(report)
    lines = text.splitlines()
    at = lines.index('  index "public"."projects_account_idx": missing from the database')
    assert lines[at + 1] == "    made by: migrations/0001_projects.sql (creates it; migration, tracked as run here)"
    assert report.next_step is None  # no legacy folder: the generic fix
    assert "fix: put the change into a migration" in text
