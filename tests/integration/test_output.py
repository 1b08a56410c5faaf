"""What users read: duplicated tracking rows, progress lines that match what ran, statement counts that agree,
folded lists, grouped notes, NO_COLOR, and one JSON contract (docs/json.md) for every task."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from tests.fixtures.cli import MIGRAKIT, cli_env, migrate_args, run_in_process
from tests.fixtures.folders import make_drizzle_folder

DATA = [
    ("0000_items", "CREATE TABLE items (id int);"),
    ("0001_seed", "INSERT INTO items VALUES (1), (2);"),
]


def tracking(db_url: str) -> list[tuple[int, str]]:
    with psycopg.connect(db_url) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT id, hash FROM drizzle.__drizzle_migrations ORDER BY id")]


def duplicate_rows(db_url: str) -> None:
    """What 2 racing deploys through a transaction pooler left before the pooler-safe lock: every row twice."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO drizzle.__drizzle_migrations (hash, created_at) "
            "SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id"
        )
        conn.execute("INSERT INTO items VALUES (1), (2)")  # ... and the data migration ran twice


# ------------------------------------------------------------------------------------ duplicated rows
def test_duplicated_tracking_rows_are_reported_with_a_safe_delete_and_status_exits_3(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, DATA)
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0
    duplicate_rows(db_url)
    rows = tracking(db_url)
    assert len(rows) == 4

    status = run_in_process(["db.status", "--migrations-dir", str(folder), "--database-url", db_url], cwd=tmp_path)
    assert status.returncode == 3, status.stdout + status.stderr
    out = status.stdout
    assert "matches no migration file" not in out
    assert "problem: 0001_seed has 2 tracking rows (ids 2, 4;" in out
    assert "data it writes may have been written more than once: check that data" in out
    delete = re.findall(r"DELETE FROM .*?;$", out, re.MULTILINE)
    assert len(delete) == 2

    as_json = run_in_process(["db.status", "--json", "--migrations-dir", str(folder), "--database-url", db_url], cwd=tmp_path)
    assert as_json.returncode == 3
    data = json.loads(as_json.stdout)
    assert data["ok"] is False and data["exit_code"] == 3 and data["unknown_rows"] == []
    assert [(d["migration"], d["id"]) for d in data["duplicate_rows"]] == [("0000_items", 3), ("0001_seed", 4)]
    assert [p["kind"] for p in data["problems"]] == ["duplicate-rows", "duplicate-rows"]

    # db.migrate warns and goes on: duplicates change nothing it (or Drizzle) runs
    migrate = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert migrate.returncode == 0
    assert "nothing to apply (2 already applied)" in migrate.stdout
    assert "warning: 0001_seed has 2 tracking rows" in migrate.stdout and "DELETE FROM" in migrate.stdout

    # the printed SQL, run as printed, keeps the oldest row of each and fixes the status
    with psycopg.connect(db_url, autocommit=True) as conn:
        for statement in delete:
            conn.execute(statement.encode())
    assert tracking(db_url) == rows[:2]
    after = run_in_process(["db.status", "--migrations-dir", str(folder), "--database-url", db_url], cwd=tmp_path)
    assert after.returncode == 0, after.stdout
    assert "tracking rows" not in after.stdout


# --------------------------------------------------------------------------------- progress lines
def test_a_pipelined_failure_prints_applying_only_for_migrations_that_ran(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path,
        [
            ("0000_a", "CREATE TABLE a (id int);"),
            ("0001_bad", "CREATE TABLE b (id int);\n--> statement-breakpoint\nINSERT INTO missing VALUES (1);"),
            ("0002_never", "CREATE TABLE never (id int);"),
            ("0003_never", "CREATE TABLE never2 (id int);"),
        ],
    )
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 1
    applying = re.findall(r"^applying (\S+) \((\d+) statement\(s\)\)", result.stderr, re.MULTILINE)
    assert applying == [("0000_a", "1"), ("0001_bad", "2")], result.stderr
    assert "0002_never" not in result.stderr.split("sending", 1)[1].split("\n", 1)[1]  # only in the "queued" line
    assert "failed at statement 2 of 2" in result.stderr


def test_single_transaction_failure_prints_applying_only_for_migrations_that_ran(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path,
        [("0000_a", "CREATE TABLE a (id int);"), ("0001_bad", "INSERT INTO missing VALUES (1);"), ("0002_never", "SELECT 1;")],
    )
    result = run_in_process(migrate_args(db_url, folder, "--single-transaction"), cwd=tmp_path)
    assert result.returncode == 1
    assert re.findall(r"^applying (\S+)", result.stderr, re.MULTILINE) == ["0000_a", "0001_bad"], result.stderr


def test_mode2_progress_and_failure_count_the_same_statements(tmp_path, db_url):
    """A legacy (Mode 2) file runs as one message: its progress line used to say 1 statement, its failure 3 of 7."""
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    body = "\n".join(["CREATE TABLE t1 (id int);", "CREATE TABLE t2 (id int);", "INSERT INTO missing VALUES (1);"]
                     + [f"CREATE TABLE t{i} (id int);" for i in range(3, 7)])  # fmt: skip
    (legacy / "022_settings.sql").write_text(body + "\n")
    make_drizzle_folder(tmp_path, [])
    args = ["db.bootstrap", "--legacy-dir", str(legacy), "--migrations-dir", str(tmp_path / "migrations"), "--database-url", db_url]
    result = run_in_process(args, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "applying 022_settings (7 statement(s))" in result.stderr
    assert "failed at statement 3 of 7" in result.stderr


# ---------------------------------------------------------------------------------- folding, grouping
def test_long_lists_are_folded_and_repeated_notes_grouped(tmp_path, db_url):
    migrations = [(f"{i:04d}_m{i}", f"CREATE TABLE m{i} (id int);") for i in range(30)]
    migrations += [(f"{i:04d}_empty{i}", "-- Custom SQL migration file, put your code below! --\n") for i in range(30, 42)]
    folder = make_drizzle_folder(tmp_path, migrations)
    result = run_in_process(migrate_args(db_url, folder, "--allow-empty"), cwd=tmp_path)  # templates: refused unless asked
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "applied 42 migration(s): 0000_m0, 0001_m1, 0002_m2, … 37 more …, 0040_empty40, 0041_empty41" in out
    assert all(len(line) < 400 for line in out.splitlines())
    notes = [line for line in out.splitlines() if "holds no SQL" in line]
    assert len(notes) == 1 and notes[0].startswith("warning: 12 migrations: its file holds no SQL")
    assert "(0030_empty30, 0031_empty31, 0032_empty32, … 7 more …, 0040_empty40, 0041_empty41)" in notes[0]
    recorded = [line for line in out.splitlines() if line.startswith("note:")]
    assert len(recorded) == 1 and recorded[0].startswith("note: 12 migrations: ")
    assert "(0030_empty30, 0031_empty31, 0032_empty32, … 7 more …, 0040_empty40, 0041_empty41)" in recorded[0]
    data = json.loads(run_in_process(migrate_args(db_url, folder, "--json"), cwd=tmp_path).stdout)
    assert len(data["warnings"]) == 12  # JSON never folds or groups
    assert data["already_applied_count"] == 42 and len(data["already_applied"]) == 42


# ------------------------------------------------------------------------------------------ NO_COLOR
_COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|9[0-7]|38;[25];[0-9;]+)m")
_ANY_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _in_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run `migrakit ARGS` with stdout on a pseudo-terminal (80x200); return what it printed."""
    leader, follower = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 80, 200, 0, 0))
    proc = subprocess.Popen([str(MIGRAKIT), *args], cwd=cwd, env=cli_env(env), stdout=follower, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def test_no_color_changes_colour_only_not_the_layout(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, DATA)
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0
    args = ["db.status", "--migrations-dir", str(folder), "--database-url", db_url]
    coloured = _in_a_terminal(args, tmp_path, {"TERM": "xterm-256color", "COLUMNS": "200"})
    plain_colour = _in_a_terminal(args, tmp_path, {"TERM": "xterm-256color", "COLUMNS": "200", "NO_COLOR": "1"})
    assert _ANY_SGR.search(coloured), "a terminal gets rich's styles"
    assert not _COLOUR.search(plain_colour), "NO_COLOR: no colour"
    for out in (coloured, plain_colour):
        assert "─" in out and "│" in out, "a terminal gets rich's table, with or without NO_COLOR"
    assert _ANY_SGR.sub("", coloured) == _ANY_SGR.sub("", plain_colour)
    piped = run_in_process(args, cwd=tmp_path, env={"NO_COLOR": "1"}).stdout
    assert "│" not in piped and "0001_seed" in piped  # not a terminal: the plain layout


# ------------------------------------------------------------------------------------- a closed pipe
def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(tmp_path, db_url):
    """`inv db.status | head -1`: the task's output meets a closed pipe; no traceback reaches the terminal."""
    folder = make_drizzle_folder(tmp_path, [(f"{i:04d}_m{i}", f"CREATE TABLE m{i} (id int);") for i in range(2000)])
    (tmp_path / "tasks.py").write_text("from migrakit.tasks import ns  # noqa: F401\n")  # a project that uses inv
    inv = Path(sys.executable).with_name("inv")
    proc = subprocess.Popen(
        [str(inv), "db.status", "--migrations-dir", str(folder), "--database-url", db_url],
        cwd=tmp_path, env=cli_env(None), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().startswith("database:")
    proc.stdout.close()  # what `head -1` does after its line
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode == 0, err
