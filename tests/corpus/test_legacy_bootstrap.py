"""db.bootstrap on the corpus case legacy-two-systems: the Drizzle part by db.migrate, then legacy/022-026."""

import hashlib
import json
import shutil

import psycopg
import pytest

from migrakit import runner
from migrakit.config import load_settings
from migrakit.errors import DriftError, MigrationFailed
from tests.fixtures.pg import dump_schema, reference_schema

pytestmark = pytest.mark.corpus

LEGACY = ["022_drop_old_audit", "023_settings_jsonb", "024_audit_trigger", "025_do_block_backfill", "026_reporting_function"]


@pytest.fixture
def case(corpus_dir):
    return corpus_dir / "legacy-two-systems"


def settings_for(case, tmp_path, db_url, legacy=None, **extra):
    return load_settings(
        tmp_path, env={}, database_url=db_url, migrations_dir=str(case / "migrations"),
        legacy_dir=str(legacy or case / "legacy"), consolidated_dir=str(tmp_path / "no-consolidations"), **extra,
    )  # fmt: skip


def rows(db_url):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT id, hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id").fetchall()


def test_bootstrap_runs_022_to_026_after_the_drizzle_part(case, tmp_path, db_url, pg_server_url, pg_bin):
    settings = settings_for(case, tmp_path, db_url)
    runner.migrate(settings)
    drizzle_rows = rows(db_url)
    report = runner.bootstrap(settings)
    assert report.applied == LEGACY

    after = rows(db_url)
    assert after[:3] == drizzle_rows  # the Drizzle rows are untouched
    expected = [(hashlib.sha256((case / "legacy" / f"{t}.sql").read_bytes()).hexdigest(), i) for i, t in enumerate(LEGACY, 1)]
    assert [(h, c) for _, h, c in after[3:]] == expected
    assert max(c for _, _, c in after) == drizzle_rows[-1][2]  # a bootstrap row is never the newest one

    with psycopg.connect(db_url) as conn:
        # the JSONB structure exists, with its default document
        account = conn.execute("INSERT INTO accounts (email) VALUES ('ada@example.com') RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO account_settings (account_id) VALUES (%s)", (account,))
        assert conn.execute("SELECT settings -> 'digest' ->> 'hour' FROM account_settings").fetchone() == ("9",)
        # a metric is saved as a JSON document and read back
        metric = {"metric": "p95_ms", "value": 742.5, "flow": "checkout"}
        conn.execute(
            "INSERT INTO audit_events (account_id, kind, payload) VALUES (%s, 'metric', %s::jsonb)", (account, json.dumps(metric))
        )
        assert conn.execute("SELECT payload FROM audit_events WHERE kind = 'metric'").fetchone() == (metric,)
        assert conn.execute("SELECT (payload ->> 'value')::float FROM audit_events WHERE payload @> '{\"metric\": \"p95_ms\"}'").fetchone() == (742.5,)
        # the trigger (024), the enum column (025) and the function and view (026) work together
        conn.execute("INSERT INTO projects (account_id, name, tier) VALUES (%s, 'p', 'pro')", (account,))
        assert conn.execute("SELECT kind FROM audit_events WHERE kind LIKE 'project.%'").fetchall() == [("project.created",)]
        assert conn.execute("SELECT * FROM project_counts(%s)", (account,)).fetchall() == [("pro", 1)]
        assert conn.execute("SELECT name, tier FROM active_projects").fetchall() == [("p", "pro")]
        conn.rollback()

    reference = reference_schema(case, "legacy-end-state.psql-reference.schema.sql", pg_server_url, pg_bin)
    assert dump_schema(db_url, pg_bin) == reference


def test_second_bootstrap_is_a_no_op(case, tmp_path, db_url):
    settings = settings_for(case, tmp_path, db_url)
    runner.migrate(settings)
    runner.bootstrap(settings)
    before = rows(db_url)
    again = runner.bootstrap(settings)
    assert again.applied == [] and len(again.plan.applied) == 5
    assert rows(db_url) == before
    status = runner.status(settings)
    assert status.plan.problems == ()  # the bootstrap rows are explained by the legacy folder, not unknown
    assert status.legacy is not None and status.legacy.pending == ()


def test_a_legacy_file_failing_halfway_leaves_nothing_of_itself(case, tmp_path, db_url):
    legacy = tmp_path / "legacy"
    shutil.copytree(case / "legacy", legacy)
    broken = legacy / "025_do_block_backfill.sql"
    original = broken.read_text()
    text = original.replace(
        "CREATE INDEX IF NOT EXISTS projects_tier_idx", "INSERT INTO tier_history SELECT 1;\nCREATE INDEX IF NOT EXISTS projects_tier_idx"
    )
    broken.write_text(text)
    settings = settings_for(case, tmp_path, db_url, legacy=legacy)
    runner.migrate(settings)

    with pytest.raises(MigrationFailed) as info:
        runner.bootstrap(settings)
    err = info.value
    assert err.migration == "025_do_block_backfill" and err.file.endswith("legacy/025_do_block_backfill.sql")
    line = text.splitlines().index("INSERT INTO tier_history SELECT 1;") + 1
    assert (err.line, err.col) == (line, 13)
    assert (err.statement_no, err.statement_count) == (3, 4)
    assert "022_drop_old_audit" in err.state  # what ran before it in this run

    assert [c for _, _, c in rows(db_url)][3:] == [1, 2, 3]  # 022-024 tracked, 025 not
    with psycopg.connect(db_url) as conn:
        # the DO block (CREATE TYPE) and the ALTER TABLE before the failing statement were rolled back
        assert conn.execute("SELECT to_regtype('project_tier')").fetchone() == (None,)
        assert conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'projects' AND column_name = 'tier'"
        ).fetchone() == (0,)
        assert conn.execute("SELECT to_regclass('active_projects')").fetchone() == (None,)  # 026 never ran

    broken.write_text(original)
    assert runner.bootstrap(settings).applied == ["025_do_block_backfill", "026_reporting_function"]


def test_legacy_file_edited_after_it_ran_is_drift(case, tmp_path, db_url):
    legacy = tmp_path / "legacy"
    shutil.copytree(case / "legacy", legacy)
    settings = settings_for(case, tmp_path, db_url, legacy=legacy)
    runner.migrate(settings)
    runner.bootstrap(settings)
    path = legacy / "023_settings_jsonb.sql"
    path.write_text(path.read_text() + "\n-- tweaked later\n")
    before = rows(db_url)
    with pytest.raises(DriftError, match="023_settings_jsonb was applied .* has changed") as info:
        runner.bootstrap(settings)
    assert info.value.exit_code == 3
    assert rows(db_url) == before
    status = runner.status(settings)
    assert [p.kind for p in status.legacy.problems] == ["edited"]


def test_bootstrap_never_trusts_a_legacy_tracking_table_or_existing_tables(case, tmp_path, db_url):
    settings = settings_for(case, tmp_path, db_url, legacy_table="schema_migrations")
    runner.migrate(settings)
    with psycopg.connect(db_url) as conn:  # the old runner claims every file ran
        conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY)")
        conn.execute("INSERT INTO schema_migrations SELECT unnest(%s::text[])", ([t.split("_")[0] for t in LEGACY],))
    assert [m.tag for m in runner.bootstrap(settings, dry_run=True).plan.pending] == LEGACY
    assert runner.bootstrap(settings).applied == LEGACY
