"""A missing corpus is a failure under CI and a skip with its reason locally (tests/fixtures/pg.py `skip_or_fail`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEST = "tests/corpus/test_corpus.py::test_second_run_applies_nothing"


def run_corpus_test(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "MIGRAKIT_CORPUS")}
    env["MIGRAKIT_CORPUS"] = str(tmp_path / "no-corpus-here")
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", TEST, "-rs", "-p", "no:cacheprovider", "-q", "-n", "0"],  # one process
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_missing_corpus_fails_under_ci(tmp_path):
    result = run_corpus_test(tmp_path, "true")
    assert result.returncode == 1, result.stdout
    assert f"corpus not found: {tmp_path / 'no-corpus-here'}" in result.stdout
    assert "CI is set, so this is not skipped" in result.stdout
    assert "2 errors" in result.stdout and "passed" not in result.stdout


def test_a_missing_corpus_is_skipped_with_its_reason_locally(tmp_path):
    result = run_corpus_test(tmp_path, None)
    assert result.returncode == 0, result.stdout
    assert "2 skipped" in result.stdout
    assert f"corpus not found: {tmp_path / 'no-corpus-here'}" in result.stdout
