"""Proves the Drizzle interop harness: Drizzle's own migrators, run through node, reproduce the
corpus ground truth (shared/corpus/*/expected), and tracking_rows() reads the table in that shape."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.interop.drizzle import drizzle_migrate, tracking_rows

pytestmark = pytest.mark.interop


def _expected_rows(case: Path) -> list[dict]:
    return json.loads((case / "expected" / "tracking.json").read_text(encoding="utf-8"))


def test_drizzle0_vercel_ai_chatbot_matches_ground_truth(db_url: str, corpus_dir: Path) -> None:
    case = corpus_dir / "vercel-ai-chatbot"
    assert drizzle_migrate(case / "migrations", db_url, major=0) == {"ok": True}
    assert tracking_rows(db_url) == _expected_rows(case)


def test_drizzle1_reactive_resume_matches_ground_truth(db_url: str, corpus_dir: Path) -> None:
    case = corpus_dir / "reactive-resume-v1"
    assert drizzle_migrate(case / "migrations", db_url, major=1) == {"ok": True}
    rows = tracking_rows(db_url)
    assert rows == _expected_rows(case)
    assert all(set(r) == {"id", "hash", "created_at", "name", "applied_at_is_null"} for r in rows)


@pytest.mark.parametrize(
    ("case_name", "major"), [("vercel-ai-chatbot", 0), ("reactive-resume-v1", 1)]
)
def test_second_drizzle_run_adds_no_rows(db_url: str, corpus_dir: Path, case_name: str, major: int) -> None:
    case = corpus_dir / case_name
    assert drizzle_migrate(case / "migrations", db_url, major=major) == {"ok": True}
    first = tracking_rows(db_url)
    assert len(first) == len(_expected_rows(case)) > 0
    assert drizzle_migrate(case / "migrations", db_url, major=major) == {"ok": True}
    assert tracking_rows(db_url) == first


def test_custom_schema_and_table_are_passed_through(db_url: str, corpus_dir: Path) -> None:
    case = corpus_dir / "vercel-ai-chatbot"
    result = drizzle_migrate(case / "migrations", db_url, major=0, schema="mk_meta", table="applied")
    assert result == {"ok": True}
    assert tracking_rows(db_url, schema="mk_meta", table="applied") == _expected_rows(case)
    assert tracking_rows(db_url) == []  # default drizzle.__drizzle_migrations was not created


def test_drizzle_failure_is_reported_like_ground_truth(db_url: str, corpus_dir: Path) -> None:
    # kan's first migration needs uuid-ossp, which stock pgserver does not ship: see expected/error.txt
    case = corpus_dir / "kan"
    result = drizzle_migrate(case / "migrations", db_url, major=0)
    with psycopg.connect(db_url) as conn:
        contrib = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'uuid-ossp'").fetchone()
    if contrib:  # a server with contrib (scripts/test-server.sh): the ground truth's failure cannot happen here
        assert result == {"ok": True}
        journal = json.loads((case / "migrations" / "meta" / "_journal.json").read_text(encoding="utf-8"))
        assert [r["created_at"] for r in tracking_rows(db_url)] == [str(e["when"]) for e in journal["entries"]]
        return
    expected = {}
    for line in (case / "expected" / "error.txt").read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(": ")
        if sep and key in ("message", "cause", "sqlstate"):
            expected[key] = value
        elif expected:  # continuation line of a multi-line value (the message has "\nparams: ")
            last = list(expected)[-1]
            expected[last] += "\n" + line
    assert result["ok"] is False
    assert result["sqlstate"] == expected["sqlstate"] == "0A000"
    assert result["cause"] == expected["cause"]
    assert result["message"] == expected["message"]
    assert tracking_rows(db_url) == _expected_rows(case) == []
