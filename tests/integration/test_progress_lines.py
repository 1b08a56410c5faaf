"""Progress for pipes and CI (issue 25.1): when stderr is not a terminal, each migration gets a line, flushed, when
the server starts it (tag, statement count) and one when it commits (its duration); in a pipelined batch too,
where results used to arrive only at the batch's end. A real `migrakit db.migrate` whose stderr is a pipe."""

from __future__ import annotations

import os
import re
import select
import signal
import time

from tests.fixtures.cli import backend_running, migrate_args, run_cli, run_in_process, start_cli, wait_for
from tests.fixtures.folders import make_drizzle_folder


def _read_until(proc, needle: str, timeout: float = 60.0) -> str:
    """stderr read as it comes (raw, past Python's buffering), until it holds `needle` (a hang guard, not a timing
    assertion)."""
    got = b""
    fd = proc.stderr.fileno()
    deadline = time.monotonic() + timeout
    while needle.encode() not in got:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise AssertionError(f"no line with {needle!r} while the process ran; stderr so far:\n{got.decode()}")
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if ready:
            got += os.read(fd, 65536)
    return got.decode()


def test_a_pipelined_migration_is_announced_while_it_runs(db_url, tmp_path):
    folder = make_drizzle_folder(
        tmp_path,
        [
            ("0000_first", 'CREATE TABLE "first" ("id" integer);'),
            ("0001_sleep", 'CREATE TABLE "slept" ("id" integer);\n--> statement-breakpoint\nSELECT pg_sleep(30);'),
            ("0002_after", 'CREATE TABLE "after" ("id" integer);'),
        ],
    )
    proc = start_cli(migrate_args(db_url, folder), cwd=tmp_path)
    try:
        seen = _read_until(proc, "applying 0001_sleep (2 statement(s)) ...")
        # announced when the server started it: its 30 s sleep (after a CREATE TABLE) is still to come or running
        wait_for(lambda: backend_running(db_url, "pg_sleep(30)"), "the sleep to run after the line", timeout=20)
        assert re.search(r"^applied 0000_first in \d+\.\d\d s$", seen, re.MULTILINE), seen
        assert "0002_after" not in seen.split("applying 0001_sleep", 1)[1]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    wait_for(lambda: not backend_running(db_url, "pg_sleep(30)"), "the cancelled statement to end", timeout=30)


def test_each_migration_gets_a_start_and_an_end_line_in_order(db_url, tmp_path):
    folder = make_drizzle_folder(tmp_path, [("0000_a", "CREATE TABLE a (id int);"), ("0001_b", "CREATE TABLE b (id int);")])
    result = run_cli(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(("applying", "applied"))]
    assert [re.sub(r"\d+\.\d\d", "N", line) for line in lines] == [
        "applying 0000_a (1 statement(s)) ...",
        "applied 0000_a in N s",
        "applying 0001_b (1 statement(s)) ...",
        "applied 0001_b in N s",
    ], result.stderr


def test_under_github_actions_migrations_are_groups_errors_annotations_and_a_summary(db_url, tmp_path):
    folder = make_drizzle_folder(
        tmp_path,
        [
            ("0000_a", "CREATE TABLE a (id int);"),
            ("0001_bad", "CREATE TABLE b (id int);\n--> statement-breakpoint\nINSERT INTO missing VALUES (1);"),
            ("0002_never", "CREATE TABLE c (id int);"),
        ],
    )
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    lines = [re.sub(r"\d+\.\d\d", "N", line) for line in result.stderr.splitlines()]
    first = lines.index("::group::applying 0000_a (1 statement(s)) ...")
    assert lines[first : first + 5] == [
        "::group::applying 0000_a (1 statement(s)) ...",
        "applied 0000_a in N s",
        "::endgroup::",
        "::group::applying 0001_bad (2 statement(s)) ...",
        "::endgroup::",  # the failed migration's group ends before its error
    ], result.stderr
    assert lines[first + 5] == (
        "::error file=migrations/0001_bad.sql,line=3,col=13::migration 0001_bad failed at statement 2 of 2: "
        'relation "missing" does not exist (42P01 UndefinedTable) (fix: create the table in an earlier migration '
        "(check the journal order), then run again)"
    )
    assert lines[first + 6] == "error: migration 0001_bad failed at statement 2 of 2"  # the full error follows
    text = summary.read_text()
    assert text.startswith("earlier step\n### migrakit db.migrate\n"), text  # appended, not overwritten
    assert re.search(r"^\| `0000_a` \| applied \| \d+\.\d\d \|$", text, re.MULTILINE), text
    assert "| `0001_bad` | failed |" in text and "| `0002_never` | not applied |" in text
    assert "**Failed** (exit 1)" in text


def test_outside_github_actions_there_is_no_group_and_no_summary(db_url, tmp_path):
    folder = make_drizzle_folder(tmp_path, [("0000_a", "CREATE TABLE a (id int);")])
    summary = tmp_path / "summary.md"
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 0, result.stderr
    assert "::" not in result.stderr and not summary.exists()
