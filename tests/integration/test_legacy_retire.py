"""The seed's failure, reproduced and retired: a "sync" step recorded the legacy files as applied in
`schema_migrations` without running them. db.check sees the missing JSONB structure, legacy.retire refuses,
db.bootstrap runs the files, then legacy.retire --yes retires the old system as one staged git change.
Real PostgreSQL, real git repository in a temp dir, the corpus case legacy-two-systems."""

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import git
import psycopg
import pytest

from migrakit.core.migration import drizzle_hash
from migrakit.db.connect import server
from migrakit.db.inspect import schema_diff as schema
from migrakit.errors import MigrakitError
from migrakit.sources.config import load_settings
from migrakit.workflows import check as drift
from migrakit.workflows.baseline import command as baseline
from migrakit.workflows.bootstrap import bootstrap as run_bootstrap
from migrakit.workflows.migrate import migrate as run_migrate
from migrakit.workflows.retire import command as retire
from migrakit.workflows.status import status as run_status
from tests.fixtures.cli import run_in_process

LEGACY = ["022_drop_old_audit", "023_settings_jsonb", "024_audit_trigger", "025_do_block_backfill", "026_reporting_function"]
SCRIPT = """#!/bin/sh
# the old runner: applies legacy/*.sql with psql and records each file in schema_migrations
set -e
for f in legacy/*.sql; do psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -1 -f "$f"; done
"""


@pytest.fixture
def project(tmp_path, corpus_dir):
    root = tmp_path / "app"
    case = corpus_dir / "legacy-two-systems"
    shutil.copytree(case / "migrations", root / "migrations")
    shutil.copytree(case / "legacy", root / "legacy")
    (root / "scripts").mkdir()
    (root / "scripts" / "unified-migrate.sh").write_text(SCRIPT)
    (root / "package.json").write_text(
        json.dumps({"name": "app", "scripts": {"build": "sh scripts/unified-migrate.sh && next build", "dev": "next dev"}}, indent=2)
        + "\n"
    )
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [project]
            name = "app"
            version = "0"

            [tool.migrakit]
            legacy_dir = "legacy"
            legacy_scripts = ["scripts/unified-migrate.*"]
            legacy_table = "schema_migrations"
            """
        )
    )
    (root / ".gitignore").write_text(".migrakit/\n")
    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "Test").set_value("user", "email", "test@example.com")
    repo.git.add("-A")
    repo.index.commit("two migration systems")
    return root


def settings_for(root: Path, db_url: str, shadow_url: str):
    return load_settings(root, env={}, database_url=db_url, shadow_url=shadow_url)


def migrakit(cwd: Path, db_url: str, shadow_url: str, *args: str) -> subprocess.CompletedProcess:
    return run_in_process(args, cwd=cwd, env={"DATABASE_URL": db_url, "MIGRAKIT_SHADOW_URL": shadow_url, "NO_COLOR": "1"})


def sync_without_running(db_url: str) -> None:
    """The seed's "sync" step: mark every legacy file applied in the old runner's table, run nothing."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz DEFAULT now())")
        for name in LEGACY:
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (name,))


def table_exists(db_url: str, name: str) -> bool:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def staged(repo: git.Repo) -> set[tuple[str, str]]:
    return {tuple(line.split("\t", 1)) for line in repo.git.diff("--cached", "--name-status").splitlines()}


def test_the_seeds_drift_is_found_and_the_legacy_system_retired(project, db_url, pg_server_url):
    settings = settings_for(project, db_url, pg_server_url)
    repo = git.Repo(project)
    head = repo.head.commit.hexsha
    run_migrate(settings)
    sync_without_running(db_url)

    # db.check: tracking "says applied" (in schema_migrations), but the JSONB structure is missing
    check = migrakit(project, db_url, pg_server_url, "db.check", "--json")
    assert check.returncode == 3, check.stderr
    data = json.loads(check.stdout)
    missing = {d["object"] for d in data["differences"] if d["kind"] == "missing"}
    assert {'table "public"."audit_events"', 'table "public"."account_settings"'} <= missing
    audit = next(d for d in data["differences"] if d["object"] == 'table "public"."audit_events"')
    assert '"payload" jsonb not null' in audit["migrations_produce"] and audit["database_has"] is None
    assert data["legacy_unrecorded"] == [f"legacy/{n}.sql" for n in LEGACY]
    assert not any("schema_migrations" in d["object"] for d in data["differences"])  # bookkeeping, ignored

    # legacy.retire refuses, names each failed precondition and the fix, and changes nothing
    refused = migrakit(project, db_url, pg_server_url, "legacy.retire", "--yes")
    assert refused.returncode == 3
    assert "FAIL legacy files ran: 0 of 5" in refused.stderr
    assert "FAIL no drift (db.check)" in refused.stderr
    assert "ok   working tree clean" in refused.stderr
    assert "migrakit db.bootstrap" in refused.stderr
    assert table_exists(db_url, "schema_migrations")
    assert not repo.is_dirty(untracked_files=True) and repo.head.commit.hexsha == head

    # a baseline cannot paper over it either: the legacy files never ran here
    papered = migrakit(project, db_url, pg_server_url, "db.baseline", "--yes")
    assert papered.returncode == 3
    assert "they never ran here" in papered.stderr and "migrakit db.bootstrap" in papered.stderr
    assert not repo.is_dirty(untracked_files=True)

    # db.bootstrap runs the legacy files and records them by hash; then retire plans (exit 5) and acts (--yes)
    boot = migrakit(project, db_url, pg_server_url, "db.bootstrap")
    assert boot.returncode == 0, boot.stderr
    assert migrakit(project, db_url, pg_server_url, "db.check").returncode == 0

    plan = migrakit(project, db_url, pg_server_url, "legacy.retire")
    assert plan.returncode == 5, plan.stderr
    assert "will remove (git rm) legacy/022_drop_old_audit.sql" in plan.stdout
    assert "will remove (git rm) scripts/unified-migrate.sh" in plan.stdout
    assert 'will drop table "public"."schema_migrations" (5 row(s))' in plan.stdout
    assert "will switch package.json scripts.build: 'sh scripts/unified-migrate.sh && next build' -> " in plan.stdout
    assert "ok   fold reproduces the schema" in plan.stdout
    assert not repo.is_dirty(untracked_files=True) and table_exists(db_url, "schema_migrations")

    done = migrakit(project, db_url, pg_server_url, "legacy.retire", "--yes")
    assert done.returncode == 0, done.stderr
    assert "staged, not committed" in done.stdout

    # one staged, reviewable change; nothing committed for the user
    assert repo.head.commit.hexsha == head
    changes = staged(repo)
    assert {("D", f"legacy/{n}.sql") for n in LEGACY} <= changes
    assert ("D", "scripts/unified-migrate.sh") in changes
    assert ("A", "docs/legacy-migration-retirement.md") in changes
    assert ("M", "package.json") in changes
    fold = sorted((project / "migrations-consolidated").glob("*_retired_legacy.sql"))
    assert len(fold) == 1 and ("A", f"migrations-consolidated/{fold[0].name}") in changes
    assert not repo.is_dirty(index=False, untracked_files=True)  # everything it did is staged
    assert json.loads((project / "package.json").read_text())["scripts"]["build"] == "migrakit db.migrate && next build"
    assert not table_exists(db_url, "schema_migrations")

    record = (project / "docs" / "legacy-migration-retirement.md").read_text()
    for name in LEGACY:
        digest = drizzle_hash(git_show(repo, f"legacy/{name}.sql"))
        assert f"| `legacy/{name}.sql` | `{digest}` |" in record
        assert not (project / "legacy" / f"{name}.sql").exists()
    assert "## Retired on " in record and "**Why.**" in record and "schema_migrations" in record

    # the database is still exactly what the (remaining) migrations produce, and tracking agrees
    assert migrakit(project, db_url, pg_server_url, "db.check").returncode == 0
    status = run_status(settings_for(project, db_url, pg_server_url))
    assert status.plan.pending == () and status.plan.unknown_rows == () and not status.plan.problems
    # a fresh database built from the retired project gets the legacy schema from the fold
    with server.shadow_database(pg_server_url) as fresh:
        run_migrate(settings_for(project, fresh, pg_server_url))
        assert schema.compare(fresh, db_url).equal

    # a second run: nothing left to retire
    again = migrakit(project, db_url, pg_server_url, "legacy.retire", "--yes")
    assert again.returncode == 0, again.stderr
    assert "nothing left to retire" in again.stdout


def test_where_the_old_runner_really_ran_the_files_baseline_records_them_then_retire(project, db_url, pg_server_url):
    settings = settings_for(project, db_url, pg_server_url)
    run_migrate(settings)
    with psycopg.connect(db_url, autocommit=True) as conn:  # the old runner: each file with its own transaction
        for name in LEGACY:
            with conn.transaction():
                conn.execute((project / "legacy" / f"{name}.sql").read_bytes())
    sync_without_running(db_url)  # and its own bookkeeping

    check = drift.check(settings)
    assert check.diff.equal and not check.drifted
    assert len(check.legacy_unrecorded) == 5  # nothing in Drizzle's table proves they ran: a note, not drift
    with pytest.raises(MigrakitError, match="legacy files ran"):
        retire.retire(settings, yes=True)

    planned = baseline.baseline(settings)
    assert planned.outcome == baseline.LEGACY_PLANNED and not planned.done
    before = tracking_rows(db_url)
    assert baseline.baseline(settings, yes=True).outcome == baseline.LEGACY_RECORDED
    after = tracking_rows(db_url)
    assert after[: len(before)] == before
    assert [(h, c) for _, h, c in after[len(before):]] == [
        (drizzle_hash((project / "legacy" / f"{n}.sql").read_bytes()), i) for i, n in enumerate(LEGACY, 1)
    ]  # exactly the rows db.bootstrap would have written
    assert not (project / "migrations" / "0003_baseline.sql").exists()  # nothing else to baseline

    assert retire.retire(settings, yes=True).outcome == retire.RETIRED
    assert not drift.check(settings_for(project, db_url, pg_server_url)).drifted


def git_show(repo: git.Repo, path: str) -> bytes:
    return subprocess.run(["git", "show", f"HEAD:{path}"], cwd=repo.working_tree_dir, capture_output=True, check=True).stdout


def test_a_dirty_working_tree_is_refused(project, db_url, pg_server_url):
    settings = settings_for(project, db_url, pg_server_url)
    run_migrate(settings)
    run_bootstrap(settings)
    (project / "notes.txt").write_text("work in progress")
    with pytest.raises(MigrakitError) as info:
        retire.retire(settings, yes=True)
    assert "working tree clean" in info.value.message
    assert info.value.exit_code == 1
    assert (project / "legacy" / "022_drop_old_audit.sql").exists()


def test_a_failure_in_the_database_step_puts_every_file_back(project, db_url, pg_server_url):
    settings = settings_for(project, db_url, pg_server_url)
    run_migrate(settings)
    run_bootstrap(settings)
    sync_without_running(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:  # outside the compared schemas, so no drift: DROP fails
        conn.execute("CREATE SCHEMA migrakit")
        conn.execute("CREATE VIEW migrakit.legacy_versions AS SELECT version FROM public.schema_migrations")
    rows_before = tracking_rows(db_url)
    repo = git.Repo(project)
    with pytest.raises(MigrakitError) as info:
        retire.retire(settings, yes=True)
    assert "2BP01" in (info.value.cause or "") and "rolled back" in (info.value.state or "")
    assert not repo.is_dirty(untracked_files=True)  # files removed, written and staged are all back
    assert (project / "legacy" / "022_drop_old_audit.sql").exists()
    assert not (project / "docs").exists() and not (project / "migrations-consolidated").exists()
    assert tracking_rows(db_url) == rows_before  # the fold's row was rolled back with the DROP
    assert table_exists(db_url, "schema_migrations")


def tracking_rows(db_url: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT id, hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id").fetchall()
