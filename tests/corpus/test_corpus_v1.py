"""The Drizzle 1.0 corpus case, applied by migrakit, must equal what Drizzle 1.0's own migrator produced."""

import json

import pytest

from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate
from migrakit.workflows.status import status as run_status
from tests.fixtures.pg import dump_schema, reference_schema
from tests.interop.drizzle import tracking_rows

pytestmark = pytest.mark.corpus

CASE = "reactive-resume-v1"


def test_reactive_resume_v1_matches_drizzle(corpus_dir, db_url, pg_server_url, pg_bin, tmp_path):
    case = corpus_dir / CASE
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(case / "migrations"))
    report = migrate(settings)
    expected = json.loads((case / "expected" / "tracking.json").read_text())
    assert report.applied == [r["name"] for r in expected]
    # every column but applied_at's value (a timestamp): id, hash, created_at, name, and applied_at IS NULL
    assert tracking_rows(db_url) == expected
    assert dump_schema(db_url, pg_bin) == reference_schema(case, "schema.sql", pg_server_url, pg_bin, major=1)


def test_reactive_resume_v1_second_run_applies_nothing(corpus_dir, db_url, tmp_path):
    case = corpus_dir / CASE
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(case / "migrations"))
    migrate(settings)
    first = tracking_rows(db_url)
    assert migrate(settings).applied == []
    assert tracking_rows(db_url) == first
    status = run_status(settings)
    assert status.plan.pending == () and status.plan.problems == () and status.plan.drizzle_pending == ()
