"""Every journal-layout corpus case, applied by migrakit, must equal what Drizzle's own migrator produced."""

import json
from pathlib import Path

import pytest

from migrakit.errors import MigrationFailed
from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate
from tests.fixtures.pg import dump_schema, reference_schema

pytestmark = pytest.mark.corpus

JOURNAL_CASES = ["vercel-ai-chatbot", "mail0-zero", "kan", "legacy-two-systems"]


def expected_rows(case: Path) -> list[dict]:
    return json.loads((case / "expected" / "tracking.json").read_text())


def actual_rows(db_url: str) -> list[dict]:
    import psycopg

    with psycopg.connect(db_url) as conn:
        cur = conn.execute(
            "SELECT id, hash, created_at::text FROM drizzle.__drizzle_migrations ORDER BY id"
        )
        return [{"id": i, "hash": h, "created_at": c} for i, h, c in cur.fetchall()]


def has_extension(db_url: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(db_url) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", (name,)).fetchone())


@pytest.mark.parametrize("case_name", JOURNAL_CASES)
def test_corpus_case_matches_drizzle(case_name, corpus_dir, db_url, pg_server_url, pg_bin, tmp_path):
    """Rows against the stored ground truth; the schema against the stored dump on PostgreSQL 16.2, else against
    Drizzle's own migrator run live on the same server (tests/fixtures/pg.py `reference_schema`)."""
    case = corpus_dir / case_name
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(case / "migrations"))
    error_file = case / "expected" / "error.txt"
    drizzle_failed = error_file.exists()
    if drizzle_failed and has_extension(db_url, "uuid-ossp"):
        # This server has contrib: the case's failure (a missing extension) cannot happen here.
        report = migrate(settings)
        journal = json.loads((case / "migrations" / "meta" / "_journal.json").read_text())
        assert report.applied == [e["tag"] for e in journal["entries"]]
        assert [r["created_at"] for r in actual_rows(db_url)] == [str(e["when"]) for e in journal["entries"]]
        assert dump_schema(db_url, pg_bin) == reference_schema(case, "schema.sql", pg_server_url, pg_bin)
        return
    if drizzle_failed:
        expected_error = error_file.read_text()
        with pytest.raises(MigrationFailed) as info:
            migrate(settings)
        err = info.value
        assert err.sqlstate in expected_error
        failed_sql = expected_error.split("Failed query: ", 1)[1].split("\n", 1)[0]
        assert failed_sql.rstrip(";") in case.joinpath("migrations", f"{err.migration}.sql").read_text()
        assert "uuid-ossp" in (err.fix or "")
        assert err.file and err.line
    else:
        migrate(settings)
    assert actual_rows(db_url) == expected_rows(case)
    assert dump_schema(db_url, pg_bin) == reference_schema(case, "schema.sql", pg_server_url, pg_bin)


@pytest.mark.parametrize("case_name", ["vercel-ai-chatbot", "legacy-two-systems"])
def test_second_run_applies_nothing(case_name, corpus_dir, db_url, tmp_path):
    case = corpus_dir / case_name
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(case / "migrations"))
    migrate(settings)
    again = migrate(settings)
    assert again.applied == []
    assert len(actual_rows(db_url)) == len(expected_rows(case))
