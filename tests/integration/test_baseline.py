"""db.baseline on a real PostgreSQL: a database built by hand (psql, no tracking) is adopted only once the
generated baseline is proven equal to it."""

import json
import subprocess
from pathlib import Path

import psycopg
import pytest

from migrakit.core.drizzle.journal import parse_journal
from migrakit.core.migration import drizzle_hash
from migrakit.core.postgres.statements import BREAKPOINT
from migrakit.db.connect import server
from migrakit.db.inspect import schema_diff as schema
from migrakit.errors import DriftError, MigrakitError
from migrakit.render.baseline import render_baseline
from migrakit.sources.config import load_settings
from migrakit.workflows import check as drift
from migrakit.workflows.baseline import command as baseline
from migrakit.workflows.migrate import migrate
from migrakit.workflows.status import status
from tests.fixtures.cli import run_in_process
from tests.fixtures.folders import add_migration


def build_by_hand(corpus_dir: Path, pg_bin: Path, url: str) -> None:
    """vercel-ai-chatbot's SQL run straight through psql, in journal order: a schema without any tracking."""
    folder = corpus_dir / "vercel-ai-chatbot" / "migrations"
    journal = parse_journal((folder / "meta" / "_journal.json").read_text())
    for entry in journal.entries:
        proc = subprocess.run(
            [str(pg_bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(folder / f"{entry.tag}.sql")],
            capture_output=True, text=True,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr


def new_project(root: Path, db_url: str, shadow_url: str):
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    return load_settings(root, env={}, database_url=db_url, shadow_url=shadow_url)


def tracking_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('drizzle.__drizzle_migrations')").fetchone()[0] is None:
            return []
        return conn.execute("SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id").fetchall()


def migrakit(cwd: Path, db_url: str, shadow_url: str, *args: str) -> subprocess.CompletedProcess:
    return run_in_process(args, cwd=cwd, env={"DATABASE_URL": db_url, "MIGRAKIT_SHADOW_URL": shadow_url, "NO_COLOR": "1"})


def test_baseline_is_written_proven_tracked_and_new_migrations_apply_on_top(
    tmp_path, db_url, pg_server_url, corpus_dir, pg_bin
):
    build_by_hand(corpus_dir, pg_bin, db_url)
    settings = new_project(tmp_path, db_url, pg_server_url)

    # without --yes: the plan is printed (exit 5), nothing is written or tracked
    plan = migrakit(tmp_path, db_url, pg_server_url, "db.baseline")
    assert plan.returncode == 5, plan.stderr
    assert "proof: applied after every migration" in plan.stdout
    assert not settings.migrations_dir.exists()
    assert tracking_rows(db_url) == []

    result = migrakit(tmp_path, db_url, pg_server_url, "db.baseline", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["outcome"] == "written" and data["tracked"] and data["tag"] == "0000_baseline"

    sql_file = settings.migrations_dir / "0000_baseline.sql"
    text = sql_file.read_text()
    assert text.count(BREAKPOINT) == len(data["statements"]) - 1  # one statement per breakpoint
    journal = parse_journal((settings.migrations_dir / "meta" / "_journal.json").read_text())
    [entry] = journal.entries
    assert entry.tag == "0000_baseline"
    assert tracking_rows(db_url) == [(drizzle_hash(sql_file.read_bytes()), entry.when)]
    assert status(settings).plan.pending == ()
    assert not drift.check(settings).drifted

    # a fresh database built from the folder has exactly the hand-built schema
    with server.shadow_database(pg_server_url) as fresh:
        migrate(settings.with_overrides(database_url=fresh))
        assert schema.compare(fresh, db_url).equal

    # new migrations apply on top, with a later `when` (Drizzle's rule)
    add_migration(settings.migrations_dir, "0001_chat_title", 'ALTER TABLE "Chat" ADD COLUMN "subtitle" text;', when=entry.when + 1000)
    assert migrate(settings).applied == ["0001_chat_title"]
    assert not drift.check(settings).drifted
    assert baseline.baseline(settings).outcome == baseline.IN_SYNC


def test_a_baseline_the_generator_cannot_reproduce_is_refused_and_nothing_is_tracked(
    tmp_path, db_url, pg_server_url, corpus_dir, pg_bin
):
    build_by_hand(corpus_dir, pg_bin, db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('ALTER TABLE "User" SET (fillfactor = 70)')  # a storage option results does not generate
    settings = new_project(tmp_path, db_url, pg_server_url)

    with pytest.raises(DriftError) as info:
        baseline.baseline(settings, yes=True)
    err = info.value
    assert "refused" in err.message
    assert 'table "public"."User": differs' in err.details
    assert any("options: ['fillfactor=70']" in d for d in err.details)
    assert not settings.migrations_dir.exists()
    assert tracking_rows(db_url) == []

    result = migrakit(tmp_path, db_url, pg_server_url, "db.baseline", "--yes")
    assert result.returncode == 3
    assert "fillfactor=70" in result.stderr
    assert "nothing was written and nothing was tracked" in result.stderr
    assert not settings.migrations_dir.exists()


def test_generated_sql_that_fails_on_the_shadow_is_a_refusal(tmp_path, db_url, pg_server_url):
    with psycopg.connect(db_url, autocommit=True) as conn:  # results orders this one wrongly (type before domain)
        conn.execute("CREATE DOMAIN positive AS int CHECK (VALUE > 0); CREATE TABLE t (a positive);")
    settings = new_project(tmp_path, db_url, pg_server_url)
    with pytest.raises(DriftError) as info:
        baseline.baseline(settings, yes=True)
    assert "fails on a shadow database" in info.value.message
    assert info.value.cause and "positive" in info.value.cause
    assert not settings.migrations_dir.exists()
    assert tracking_rows(db_url) == []


def test_an_empty_database_needs_no_baseline(tmp_path, db_url, pg_server_url):
    settings = new_project(tmp_path, db_url, pg_server_url)
    report = baseline.baseline(settings, yes=True)
    assert report.outcome == baseline.EMPTY
    assert "no baseline needed" in render_baseline(report)
    assert not settings.migrations_dir.exists()


def test_pending_migrations_must_be_applied_before_a_baseline(tmp_path, db_url, pg_server_url):
    settings = new_project(tmp_path, db_url, pg_server_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE handmade (id int)")
    settings.migrations_dir.mkdir()
    (settings.migrations_dir / "meta").mkdir()
    (settings.migrations_dir / "meta" / "_journal.json").write_text('{"version": "7", "dialect": "postgresql", "entries": []}')
    add_migration(settings.migrations_dir, "0000_other", "CREATE TABLE other (id int);")
    with pytest.raises(MigrakitError) as info:
        baseline.baseline(settings, yes=True)
    assert "not applied" in info.value.message and "db.migrate" in (info.value.fix or "")


def test_another_environment_adopts_the_committed_baseline(tmp_path, db_url, pg_server_url, corpus_dir, pg_bin):
    build_by_hand(corpus_dir, pg_bin, db_url)
    settings = new_project(tmp_path, db_url, pg_server_url)
    baseline.baseline(settings, yes=True)
    add_migration(settings.migrations_dir, "0001_more", "CREATE TABLE more (id int);", when=2_000_000_000_000)

    with server.shadow_database(pg_server_url) as staging:  # a second database built by hand the same way
        build_by_hand(corpus_dir, pg_bin, staging)
        there = settings.with_overrides(database_url=staging)
        planned = baseline.baseline(there)
        assert planned.outcome == baseline.ADOPT_PLANNED and tracking_rows(staging) == []
        assert baseline.baseline(there, yes=True).outcome == baseline.ADOPTED
        assert migrate(there).applied == ["0001_more"]
        assert not drift.check(there).drifted

        with psycopg.connect(staging, autocommit=True) as conn:  # a third that differs is refused
            conn.execute("DROP TABLE more")
            conn.execute("DELETE FROM drizzle.__drizzle_migrations")
            conn.execute('ALTER TABLE "Chat" ADD COLUMN "extra" int')
        with pytest.raises(DriftError) as info:
            baseline.baseline(there, yes=True)
        assert 'column "public"."Chat"."extra": in the database only' in info.value.details
        assert tracking_rows(staging) == []
