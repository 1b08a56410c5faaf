"""db.bootstrap on the corpus case legacy-two-systems: the Drizzle part by db.migrate, then legacy/022-026."""

import hashlib
import json
import re
import shutil
import subprocess

import psycopg
import pytest

from migrakit.errors import ConfigError, DriftError, MigrationFailed
from migrakit.render.run import render_bootstrap
from migrakit.sources.config import load_settings
from migrakit.workflows.bootstrap import bootstrap as run_bootstrap
from migrakit.workflows.migrate import migrate
from migrakit.workflows.status import status as run_status
from tests.fixtures.cli import run_in_process
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
    migrate(settings)
    drizzle_rows = rows(db_url)
    report = run_bootstrap(settings)
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
    migrate(settings)
    run_bootstrap(settings)
    before = rows(db_url)
    again = run_bootstrap(settings)
    assert again.applied == [] and len(again.plan.applied) == 5
    assert again.already == [] and "nothing to run: all 5 legacy file(s) already ran here" in render_bootstrap(again)
    assert rows(db_url) == before
    status = run_status(settings)
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
    migrate(settings)

    with pytest.raises(MigrationFailed) as info:
        run_bootstrap(settings)
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
    assert run_bootstrap(settings).applied == ["025_do_block_backfill", "026_reporting_function"]


def test_legacy_file_edited_after_it_ran_is_drift(case, tmp_path, db_url):
    legacy = tmp_path / "legacy"
    shutil.copytree(case / "legacy", legacy)
    settings = settings_for(case, tmp_path, db_url, legacy=legacy)
    migrate(settings)
    run_bootstrap(settings)
    path = legacy / "023_settings_jsonb.sql"
    path.write_text(path.read_text() + "\n-- tweaked later\n")
    before = rows(db_url)
    with pytest.raises(DriftError, match="023_settings_jsonb was applied .* has changed") as info:
        run_bootstrap(settings)
    assert info.value.exit_code == 3
    assert rows(db_url) == before
    status = run_status(settings)
    assert [p.kind for p in status.legacy.problems] == ["edited"]


def test_bootstrap_never_trusts_a_legacy_tracking_table_or_existing_tables(case, tmp_path, db_url):
    settings = settings_for(case, tmp_path, db_url, legacy_table="schema_migrations")
    migrate(settings)
    with psycopg.connect(db_url) as conn:  # the old runner claims every file ran
        conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY)")
        conn.execute("INSERT INTO schema_migrations SELECT unnest(%s::text[])", ([t.split("_")[0] for t in LEGACY],))
    assert [m.tag for m in run_bootstrap(settings, dry_run=True).plan.pending] == LEGACY
    assert run_bootstrap(settings).applied == LEGACY


# ------------------------------------------------------------------------------------------ the partly-run folder
def _project(case, tmp_path, shadow_url):
    """A project whose legacy folder an old runner half ran, configured as a user would in pyproject.toml."""
    shutil.copytree(case / "migrations", tmp_path / "migrations")
    shutil.copytree(case / "legacy", tmp_path / "legacy")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.migrakit]\n"
        'legacy_dir = "legacy"\n'
        'legacy_table = "schema_migrations"\n'
        f'shadow_url = "{shadow_url}"\n'
    )
    return tmp_path


def _psql_file(pg_bin, db_url, path):
    """What a person does by hand: psql, one transaction per file, stop on the first error."""
    subprocess.run([str(pg_bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(path), db_url], check=True, capture_output=True)


def _printed_command(output, prefix="db.bootstrap"):
    """The `migrakit db.bootstrap ...` command a message prints as its fix (it names the program that ran), as
    migrakit CLI arguments."""
    found = re.findall(r"`migrakit (" + re.escape(prefix) + r"[^`\n]*)`", output)
    assert found, output
    return found[-1].split()


@pytest.mark.slow
def test_seed_partly_run_legacy_folder_fixes_lead_forward_to_a_clean_database(case, tmp_path, db_url, pg_server_url, pg_bin):
    project = _project(case, tmp_path, pg_server_url)
    env = {"DATABASE_URL": db_url}
    assert run_in_process(["db.migrate"], cwd=project, env=env).returncode == 0
    for tag in ["022_drop_old_audit", "024_audit_trigger", "025_do_block_backfill", "026_reporting_function"]:
        _psql_file(pg_bin, db_url, project / "legacy" / f"{tag}.sql")  # 023 never ran
    with psycopg.connect(db_url) as conn:  # ... and the old runner's table says all five did
        conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY)")
        conn.execute("INSERT INTO schema_migrations VALUES ('022'), ('023'), ('024'), ('025'), ('026')")
    forward = ["db.bootstrap", "--adopt", "022,024,025,026", "--only", "023"]

    # db.baseline: refuses, and names the one command that records 022, 024-026 and runs 023
    out = run_in_process(["db.baseline"], cwd=project, env=env)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert _printed_command(out.stderr) == forward
    assert "023_settings_jsonb" in out.stderr and "never ran here" in out.stderr

    # db.bootstrap (no options): fails on 022, whose objects exist; its fix leads to db.check, not back to baseline
    out = run_in_process(["db.bootstrap"], cwd=project, env=env)
    assert out.returncode == 1 and "022_drop_old_audit" in out.stderr and "already exists" in out.stderr
    assert "migrakit db.check" in out.stderr and "baseline" not in out.stderr
    assert rows(db_url)[3:] == []

    # db.check: names 023 as the file that creates account_settings, and prints the same command
    out = run_in_process(["db.check"], cwd=project, env=env)
    assert out.returncode == 3, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    at = lines.index('  table "public"."account_settings": missing from the database')
    assert lines[at + 1].startswith("    made by: legacy/023_settings_jsonb.sql (creates it; legacy file, not run here yet)")
    assert _printed_command(out.stdout) == forward

    # adopting a file that never ran is refused, naming the objects it lacks; nothing is recorded
    out = run_in_process(["db.bootstrap", "--adopt", "023"], cwd=project, env=env)
    assert out.returncode == 3 and 'table "public"."account_settings": 023_settings_jsonb creates it' in out.stderr
    assert rows(db_url)[3:] == []

    # follow the printed fix
    out = run_in_process(_printed_command(run_in_process(["db.check"], cwd=project, env=env).stdout), cwd=project, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "recorded 4 legacy file(s) as run, without running them: 022_drop_old_audit, 024_audit_trigger, " in out.stdout
    assert "ran 1 legacy file(s), each in one transaction: 023_settings_jsonb" in out.stdout

    # done: every file tracked at its position, check and status clean, baseline has nothing to do
    expected = [(hashlib.sha256((case / "legacy" / f"{t}.sql").read_bytes()).hexdigest(), i) for i, t in enumerate(LEGACY, 1)]
    assert [(h, c) for _, h, c in rows(db_url)[3:]] == expected
    for args, code in ((["db.check"], 0), (["db.status"], 0), (["db.bootstrap"], 0)):
        out = run_in_process(args, cwd=project, env=env)
        assert out.returncode == code, (args, out.stdout + out.stderr)
    assert "no drift" in run_in_process(["db.check"], cwd=project, env=env).stdout
    out = run_in_process(["db.baseline"], cwd=project, env=env)
    assert out.returncode == 0 and "no baseline needed" in out.stdout
    with psycopg.connect(db_url) as conn:  # 023 really ran: its JSONB default document is there
        account = conn.execute("INSERT INTO accounts (email) VALUES ('ada@example.com') RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO account_settings (account_id) VALUES (%s)", (account,))
        assert conn.execute("SELECT settings -> 'digest' ->> 'hour' FROM account_settings").fetchone() == ("9",)
        conn.rollback()


@pytest.mark.slow
def test_a_partly_present_legacy_file_is_not_adopted_and_the_error_names_what_differs(case, tmp_path, db_url, pg_server_url, pg_bin):
    project = _project(case, tmp_path, pg_server_url)
    env = {"DATABASE_URL": db_url}
    assert run_in_process(["db.migrate"], cwd=project, env=env).returncode == 0
    _psql_file(pg_bin, db_url, project / "legacy" / "022_drop_old_audit.sql")
    with psycopg.connect(db_url) as conn:  # someone dropped one of 022's indexes by hand
        conn.execute("DROP INDEX audit_events_payload_gin_idx")
    out = run_in_process(["db.bootstrap", "--adopt", "022"], cwd=project, env=env)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "cannot adopt 022_drop_old_audit" in out.stderr and "(partial)" in out.stderr
    assert 'index "public"."audit_events_payload_gin_idx": 022_drop_old_audit creates it' in out.stderr
    assert "only partly present" in out.stderr
    assert "Traceback" not in out.stderr
    assert rows(db_url)[3:] == []

    out = run_in_process(["db.check"], cwd=project, env=env)  # check names the same object, and no command that would adopt it
    assert out.returncode == 3 and "migrakit db.bootstrap --adopt" not in out.stdout
    assert "022_drop_old_audit: index \"public\".\"audit_events_payload_gin_idx\"" in out.stdout

    with psycopg.connect(db_url) as conn:  # put it back: now 022 is proven and adopted; the rest run
        conn.execute("CREATE INDEX audit_events_payload_gin_idx ON audit_events USING gin (payload jsonb_path_ops)")
    out = run_in_process(_printed_command(run_in_process(["db.check"], cwd=project, env=env).stdout), cwd=project, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert [c for _, _, c in rows(db_url)[3:]] == [1, 2, 3, 4, 5]
    assert run_in_process(["db.check"], cwd=project, env=env).returncode == 0


def test_bootstrap_only_runs_just_the_files_named_and_leaves_the_rest_pending(case, tmp_path, db_url):
    settings = settings_for(case, tmp_path, db_url)
    migrate(settings)
    report = run_bootstrap(settings, only=["022", "023_settings_jsonb.sql"])
    assert report.applied == LEGACY[:2] and report.left == LEGACY[2:]
    assert [c for _, _, c in rows(db_url)][3:] == [1, 2]
    again = run_bootstrap(settings, only=["023"])  # already ran: nothing to do, said so
    assert again.applied == [] and again.already == ["023_settings_jsonb"]
    assert run_bootstrap(settings, only=["025-026"]).applied == LEGACY[3:]
    assert run_bootstrap(settings).applied == ["024_audit_trigger"]  # a later file ran first: allowed for legacy files
    assert run_status(settings).legacy.pending == ()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"only": ["099"]}, "no legacy file matches '099'"),
        ({"adopt": ["settings"]}, "no legacy file matches 'settings'"),
        ({"only": ["023"], "adopt": ["022-023"]}, "023_settings_jsonb is named by both --only"),
    ],
)
def test_bootstrap_selectors_that_name_no_file_or_one_file_twice_are_config_errors(case, tmp_path, db_url, options, message):
    settings = settings_for(case, tmp_path, db_url)
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        run_bootstrap(settings, **options)
    assert info.value.exit_code == 2
