"""migrakit and Drizzle 0.x's own migrator agree, row for row, on the same folders and databases."""

import json
import shutil
from pathlib import Path

import pytest

from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate
from migrakit.workflows.status import status as run_status
from tests.interop.drizzle import drizzle_migrate, tracking_rows

pytestmark = pytest.mark.interop

CASES = ["vercel-ai-chatbot", "mail0-zero", "legacy-two-systems"]


def migrate_with_migrakit(tmp_path: Path, db_url: str, folder: Path) -> list[str]:
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder))
    return migrate(settings).applied


def first_k(folder: Path, k: int, dest: Path) -> Path:
    """A copy of `folder` whose journal keeps only its first k entries (what a teammate had k commits ago)."""
    shutil.copytree(folder, dest)
    journal_path = dest / "meta" / "_journal.json"
    journal = json.loads(journal_path.read_text())
    journal["entries"] = journal["entries"][:k]
    journal_path.write_text(json.dumps(journal, indent=2))
    return dest


@pytest.mark.parametrize("case_name", CASES)
def test_after_migrakit_drizzle_applies_nothing(case_name, corpus_dir, db_url, tmp_path):
    folder = corpus_dir / case_name / "migrations"
    assert migrate_with_migrakit(tmp_path, db_url, folder)
    before = tracking_rows(db_url)
    assert drizzle_migrate(folder, db_url, major=0) == {"ok": True}
    assert tracking_rows(db_url) == before


@pytest.mark.parametrize("case_name", CASES)
def test_after_drizzle_migrakit_finds_nothing_pending(case_name, corpus_dir, db_url, tmp_path):
    folder = corpus_dir / case_name / "migrations"
    assert drizzle_migrate(folder, db_url, major=0) == {"ok": True}
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder))
    status = run_status(settings)
    assert status.plan.pending == ()
    assert status.plan.problems == ()
    assert migrate_with_migrakit(tmp_path, db_url, folder) == []


@pytest.mark.parametrize("case_name, k", [("vercel-ai-chatbot", 4), ("mail0-zero", 11)])
def test_drizzle_first_k_then_migrakit_equals_drizzles_full_run(case_name, k, corpus_dir, db_url, tmp_path):
    folder = corpus_dir / case_name / "migrations"
    partial = first_k(folder, k, tmp_path / "partial")
    assert drizzle_migrate(partial, db_url, major=0) == {"ok": True}
    assert len(tracking_rows(db_url)) == k
    applied = migrate_with_migrakit(tmp_path, db_url, folder)
    assert len(applied) > 0
    expected = json.loads((corpus_dir / case_name / "expected" / "tracking.json").read_text())
    assert tracking_rows(db_url) == expected
