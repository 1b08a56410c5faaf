"""db.lint against PostgreSQL: each case in tests/lint_cases/ (a dangerous or safe migration on a seeded table of
5,000 rows) gives the expected rules, and the locks and rewrites PostgreSQL itself reports (pg_locks,
relfilenode) as written in the case; the CLI (exit code 7, the JSON shape) and `db.migrate --lint`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
import pytest

from migrakit.sources.config import load_settings
from migrakit.workflows import lint as lint_workflow
from migrakit.workflows.migrate import migrate
from migrakit.workflows.status import status
from tests.fixtures.cli import run_in_process
from tests.fixtures.folders import add_migration, make_drizzle_folder
from tests.fixtures.lint_cases import CASE_FILES, SEED, facts, family, write_measured
from tests.fixtures.lint_cases import load as load_case

REGEN = os.environ.get("MIGRAKIT_REGEN_LINT_CASES", "").strip() not in ("", "0")


def seeded(tmp_path: Path, db_url: str, shadow_url: str, case: dict, **more):
    """A folder whose applied part (seed, the case's setup) is on the target, and the case's SQL pending."""
    migrations = [("0000_seed", SEED)] + ([("0001_setup", case["setup"])] if case.get("setup") else [])
    folder = make_drizzle_folder(tmp_path, migrations)
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder), shadow_url=shadow_url, **more)
    migrate(settings)
    add_migration(folder, "0002_case", case["sql"])
    return settings, folder


@pytest.mark.parametrize("path", CASE_FILES, ids=[f"{family(p)}/{p.stem}" for p in CASE_FILES])
def test_case_gives_its_rules_locks_and_rewrites(path, tmp_path, db_url, pg_server_url):
    case = load_case(path)
    settings, _ = seeded(tmp_path, db_url, pg_server_url, case)
    report = lint_workflow.lint(settings)
    assert [m.tag for m in report.migrations] == ["0002_case"]
    stmts = report.migrations[0].statements
    measured = [facts(s.facts) for s in stmts]
    if REGEN:
        write_measured(path, report.server_version, {n: t for n, (t, _) in report.sizes.items()}, measured)
    else:  # what the rules are checked on without a server (tests/unit/test_lint_cases.py) is what the server does
        def steady(facts: list[dict]) -> list[dict]:  # a statement outside a transaction is watched by polling
            return [{k: v for k, v in f.items() if f["in_transaction"] or k != "locks"} for f in facts]

        # The recording is one server version's facts (PostgreSQL 15 takes a few more index locks than 18 for the
        # same statement); another major version is held to the rules, locks and rewrites the case expects below.
        if report.server_version // 10000 == case["measured"]["server_version"] // 10000:
            assert steady(measured) == steady(case["measured"]["statements"]), "re-record: MIGRAKIT_REGEN_LINT_CASES=1"
        assert {n: t for n, (t, _) in report.sizes.items()} == case["measured"]["target_rows"]
    rules = {f.rule for s in stmts for f in s.findings if f.severity != "info"}
    assert rules == set(case["expect"]["rules"]), [(s.sql, s.findings, s.locks, s.rewrites, s.scans) for s in stmts]
    for index, relation, mode in case["expect"]["locks"]:
        assert (relation, mode) in stmts[index - 1].locks, (stmts[index - 1].sql, stmts[index - 1].locks)
    assert {(s.index, r) for s in stmts for r in s.rewrites} == {tuple(x) for x in case["expect"]["rewrites"]}
    severities = {f.severity for s in stmts for f in s.findings}
    if case["kind"] == "dangerous":
        assert severities & {"error", "warning"}
    else:
        assert "error" not in severities
    for s in stmts:  # every finding carries its fix, and every statement ran or says why not
        assert all(f.fix and f.message for f in s.findings)
        assert s.duration_ms is not None or not s.ran
    # the target is never changed: the pending migration is still pending, its SQL did not run there
    assert [m.tag for m in status(settings).plan.pending] == ["0002_case"]


def test_a_lock_that_waits_without_lock_timeout_is_flagged(tmp_path, db_url, pg_server_url):
    case = {"sql": "ALTER TABLE users ADD COLUMN nickname text;"}
    settings, _ = seeded(tmp_path, db_url, pg_server_url, case, lock_timeout="0")
    rules = [f.rule for s in lint_workflow.lint(settings).migrations[0].statements for f in s.findings]
    assert rules == ["missing-lock-timeout"]
    add_migration(Path(settings.migrations_dir), "0003_with_timeout", "SET lock_timeout = '2s';\n--> statement-breakpoint\nALTER TABLE users ADD COLUMN x text;")
    report = lint_workflow.lint(settings, migration="0003")
    assert [m.tag for m in report.migrations] == ["0003_with_timeout"]
    assert report.findings == []


def test_all_and_migration_choose_what_is_linted(tmp_path, db_url, pg_server_url):
    settings, _ = seeded(tmp_path, db_url, pg_server_url, {"sql": "CREATE INDEX users_a_idx ON users (a);"})
    every = lint_workflow.lint(settings, every=True)
    assert [m.tag for m in every.migrations] == ["0000_seed", "0002_case"]
    seed = every.migrations[0].statements
    assert seed[2].sql.startswith("INSERT INTO users") and not seed[2].findings  # a table it created: nothing to say
    assert ("public.users", "RowExclusiveLock") in seed[2].locks and "public.users" in seed[2].new
    one = lint_workflow.lint(settings, migration="0002_case")
    assert [f.rule for s in one.migrations[0].statements for f in s.findings] == ["index-not-concurrent"]


def test_cli_json_has_the_issue_shape_and_exit_7(tmp_path, db_url, pg_server_url):
    case = {"sql": "SELECT 1;\n--> statement-breakpoint\nALTER TABLE users ALTER COLUMN a TYPE bigint;"}
    _, folder = seeded(tmp_path, db_url, pg_server_url, case)
    args = ["db.lint", "--json", "-m", str(folder), "-u", db_url, "-s", pg_server_url]
    proc = run_in_process(args, cwd=tmp_path)
    assert proc.returncode == 7, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["task"] == "db.lint" and doc["exit_code"] == 7
    (m,) = doc["migrations"]
    assert m["tag"] == "0002_case"
    first, second = m["statements"]
    assert first["index"] == 1 and second["index"] == 2 and second["line"] == 3
    assert second["sql"] == "ALTER TABLE users ALTER COLUMN a TYPE bigint"
    assert {"relation": "public.users", "mode": "AccessExclusiveLock"}.items() <= second["locks"][0].items() or any(
        lk["relation"] == "public.users" and lk["mode"] == "AccessExclusiveLock" for lk in second["locks"])
    assert second["rewrites"] == ["public.users", "public.users_pkey"]  # the table, and its index rebuilt
    assert second["rewritten_indexes"] == ["public.users_pkey"] and second["not_measured"] is None
    assert isinstance(second["duration_ms"], float)
    (f,) = second["findings"]
    assert set(f) == {"rule", "severity", "message", "fix"} and f["rule"] == "column-type-change" and f["severity"] == "error"
    assert first["findings"] == [] and first["locks"] == []
    # plain text names the lock, the size, the rule and the fix
    text = run_in_process(["db.lint", "-m", str(folder), "-u", db_url, "-s", pg_server_url], cwd=tmp_path)
    assert text.returncode == 7
    assert "AccessExclusiveLock on public.users (" in text.stdout and "rows" in text.stdout
    assert "[column-type-change]" in text.stdout and "fix: add a new column" in text.stdout
    assert "Traceback" not in text.stdout + text.stderr
    # --fail-on: a warning-only migration passes at error and fails at warning
    add_migration(folder, "0003_warn", "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';")
    only = ["db.lint", "--migration", "0003", "-m", str(folder), "-u", db_url, "-s", pg_server_url]
    assert run_in_process(only, cwd=tmp_path).returncode == 0
    assert run_in_process([*only, "--fail-on", "warning"], cwd=tmp_path).returncode == 7
    bad = run_in_process([*only, "--fail-on", "fatal"], cwd=tmp_path)
    assert bad.returncode == 2 and "--fail-on" in bad.stderr


def test_github_annotations_point_at_the_line(tmp_path, db_url, pg_server_url):
    _, folder = seeded(tmp_path, db_url, pg_server_url, {"sql": "\n\nCREATE INDEX users_a_idx ON users (a);"})
    proc = run_in_process(["db.lint", "--github", "-m", str(folder), "-u", db_url, "-s", pg_server_url], cwd=tmp_path)
    assert proc.returncode == 7
    ann = [ln for ln in proc.stdout.splitlines() if ln.startswith("::")]
    assert len(ann) == 1 and ann[0].startswith("::error file=") and "0002_case.sql,line=3," in ann[0]


def test_migrate_with_lint_refuses_on_an_error_and_applies_nothing(tmp_path, db_url, pg_server_url):
    _, folder = seeded(tmp_path, db_url, pg_server_url, {"sql": "CREATE INDEX users_a_idx ON users (a);"})
    env = {"MIGRAKIT_SHADOW_URL": pg_server_url}
    proc = run_in_process(["db.migrate", "--lint", "-m", str(folder), "-u", db_url], cwd=tmp_path, env=env)
    assert proc.returncode == 7, proc.stdout + proc.stderr
    assert "index-not-concurrent" in proc.stderr and "nothing was run" in proc.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM drizzle.__drizzle_migrations").fetchone()[0] == 1
        assert conn.execute("SELECT to_regclass('public.users_a_idx')").fetchone()[0] is None
    (folder / "0002_case.sql").write_text("ALTER TABLE users ADD COLUMN nickname text;")
    ok = run_in_process(["db.migrate", "--lint", "-m", str(folder), "-u", db_url], cwd=tmp_path, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "applied 1 migration(s)" in ok.stdout


def test_consolidate_lints_the_file_it_wrote(tmp_path, db_url, pg_server_url):
    _, folder = seeded(tmp_path, db_url, pg_server_url, {"sql": "ALTER TABLE users ADD COLUMN nickname text;"})
    add_migration(folder, "0003_index", "CREATE INDEX users_nickname_idx ON users (nickname);")
    args = ["db.consolidate", "--from", "0002_case", "--to", "0003_index", "--name", "feature", "--yes", "-m", str(folder), "-u", db_url]
    proc = run_in_process(args, cwd=tmp_path, env={"MIGRAKIT_SHADOW_URL": pg_server_url})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lint_lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("lint: ")]
    (written,) = (tmp_path / "migrations-consolidated").glob("*_feature.sql")
    text = written.read_text()
    line = text[: text.index("CREATE INDEX users_nickname_idx")].count("\n") + 1
    # the index is built under ShareLock, and under the AccessExclusiveLock ADD COLUMN took in the same transaction
    assert [ln.split("] ")[0].rsplit("[", 1)[1] for ln in lint_lines] == ["index-not-concurrent", "lock-held-during-work"]
    assert all(f"{written.name}:{line} " in ln and "] error: " in ln for ln in lint_lines)


def test_lint_reports_the_refusal_of_migrate_in_the_same_words(tmp_path, db_url, pg_server_url):
    sql = ("ALTER TABLE users ADD COLUMN nickname text;\n--> statement-breakpoint\n"
           "CREATE INDEX CONCURRENTLY users_nickname_idx ON users (nickname);")
    _, folder = seeded(tmp_path, db_url, pg_server_url, {"sql": sql})
    lint = run_in_process(["db.lint", "--json", "-m", str(folder), "-u", db_url, "-s", pg_server_url], cwd=tmp_path)
    assert lint.returncode == 7, lint.stderr
    (m,) = json.loads(lint.stdout)["migrations"]
    (finding,) = [(s["index"], f) for s in m["statements"] for f in s["findings"]]
    assert finding[0] == 2 and finding[1]["rule"] == "not-runnable" and finding[1]["severity"] == "error"
    migrate = run_in_process(["db.migrate", "-m", str(folder), "-u", db_url], cwd=tmp_path)
    assert migrate.returncode == 1, migrate.stdout + migrate.stderr
    assert finding[1]["message"] in migrate.stderr and finding[1]["fix"] in migrate.stderr
    assert "0002_case.sql:3" in migrate.stderr and "nothing was run" in migrate.stderr


def test_a_missing_extension_is_one_finding_and_what_depends_on_it_is_not_measured(tmp_path, db_url, pg_server_url):
    folder = make_drizzle_folder(tmp_path, [
        ("0000_ext", "CREATE EXTENSION IF NOT EXISTS migrakit_no_such_extension;"),
        ("0001_docs", "CREATE TABLE docs (id int PRIMARY KEY, body migrakit_no_such_type);"),
        ("0002_more", "ALTER TABLE docs ADD COLUMN title text NOT NULL;\n--> statement-breakpoint\n"
                      "CREATE INDEX docs_title_idx ON docs (title);\n--> statement-breakpoint\n"
                      "CREATE TABLE notes (id int);"),
    ])  # fmt: skip
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder), shadow_url=pg_server_url)
    report = lint_workflow.lint(settings, every=True)
    findings = [(m.tag, s.index, f) for m in report.migrations for s in m.statements for f in s.findings]
    assert [(tag, i, f.rule, f.severity) for tag, i, f in findings if f.severity != "info"] == [
        ("0000_ext", 1, "statement-failed", "warning")]
    assert "The environment" in findings[0][2].message and "--shadow-url" in findings[0][2].fix
    stmts = {(m.tag, s.index): s for m in report.migrations for s in m.statements}
    for key in [("0001_docs", 1), ("0002_more", 1), ("0002_more", 2)]:
        assert stmts[key].error and "statement 1 of 0000_ext" in stmts[key].not_measured
    notes = stmts[("0002_more", 3)]
    assert notes.not_measured is None and notes.error is None and "public.notes" in notes.new
    assert report.exit_code == 0  # the environment's failure is a warning: --fail-on error passes


def test_a_shadow_dropped_without_waiting_is_gone_soon_after(pg_server_url):
    import time
    import uuid

    from migrakit.db.connect import server

    name = f"migrakit_shadow_test_{uuid.uuid4().hex[:8]}"
    server.create_database(pg_server_url, name, throwaway=True)
    server.drop_database(pg_server_url, name, wait=False)  # returns once the server has the statement
    deadline = time.monotonic() + 30
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        while conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            assert time.monotonic() < deadline, "the server did not finish the drop"
            time.sleep(0.05)
