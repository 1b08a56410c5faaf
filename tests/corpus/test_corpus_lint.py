"""`db.lint --all` over every real corpus folder: every statement runs on the shadow or says why not, nothing
crashes, and the JSON document holds every statement."""

import json

import pytest

from migrakit.render.json import document as as_json
from migrakit.sources.config import load_settings
from migrakit.workflows import lint as lint_workflow

pytestmark = pytest.mark.corpus

CASES = ["vercel-ai-chatbot", "mail0-zero", "kan", "legacy-two-systems", "reactive-resume-v1"]


@pytest.mark.parametrize("case_name", CASES)
def test_corpus_folder_lints_without_a_crash(case_name, corpus_dir, db_url, pg_server_url, tmp_path):
    case = corpus_dir / case_name
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(case / "migrations"), shadow_url=pg_server_url)
    report = lint_workflow.lint(settings, every=True)
    assert report.migrations and all(m.statements or not m.error for m in report.migrations)
    ran = [s for m in report.migrations for s in m.statements if s.ran and not s.error]
    assert ran  # most statements ran on the shadow and were measured
    for m in report.migrations:
        for s in m.statements:
            assert s.line >= 1 and s.sql
            assert s.ran or m.error  # a statement that did not run belongs to a migration that failed
            if s.error:  # its own failure is one finding; one that fails for what an earlier failure left out is
                assert s.findings if s.not_measured is None else "failed" in s.not_measured  # not measured
    doc = json.loads(as_json.dumps(as_json.document("db.lint", report, exit_code=0 if report.ok else 7)))
    assert sum(len(m["statements"]) for m in doc["migrations"]) == sum(len(m.statements) for m in report.migrations)
