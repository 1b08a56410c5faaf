"""db.lint --down: the down files db.rollback would run, linted on a shadow holding every applied migration (the
state before the rollback) with db.lint's rules; findings name the down file and its line; the target unchanged."""

from __future__ import annotations

import json

import psycopg

from tests.fixtures.cli import migrate_args, run_in_process
from tests.fixtures.folders import make_drizzle_folder
from tests.fixtures.lint_cases import SEED

UPS = [
    ("0000_seed", SEED),
    ("0001_a_idx", "CREATE INDEX users_a_idx ON users (a);"),
    ("0002_b_idx", "CREATE INDEX users_email_idx ON users (email);"),
]
DOWNS = {
    "0001_a_idx": "SELECT 1;\n--> statement-breakpoint\nDROP INDEX users_a_idx;",  # AccessExclusiveLock on users
    "0002_b_idx": "DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;",  # the safe form
}


def applied(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, UPS)
    for tag, text in DOWNS.items():
        (folder / f"{tag}.down.sql").write_text(text)
    done = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def lint(tmp_path, db_url, shadow_url, folder, *args):
    argv = ["db.lint", "--json", "-m", str(folder), "-u", db_url, "-s", shadow_url, *args]
    proc = run_in_process(argv, cwd=tmp_path)
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def tracking(db_url):
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT id, hash FROM drizzle.__drizzle_migrations ORDER BY id").fetchall()
        indexes = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'users' ORDER BY 1").fetchall()
    return rows, indexes


def test_a_clean_down_of_the_last_applied_migration_passes(tmp_path, db_url, pg_server_url):
    folder = applied(tmp_path, db_url)
    proc = lint(tmp_path, db_url, pg_server_url, folder, "--down", "--fail-on", "info")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (m,) = json.loads(proc.stdout)["migrations"]
    assert m["tag"] == "0002_b_idx" and m["file"].endswith("0002_b_idx.down.sql")
    assert [f for s in m["statements"] for f in s["findings"]] == []
    assert m["statements"][0]["sql"].startswith("DROP INDEX CONCURRENTLY")


def test_a_down_dropping_an_index_on_a_table_with_rows_is_flagged_at_its_line(tmp_path, db_url, pg_server_url):
    folder = applied(tmp_path, db_url)
    before = tracking(db_url)
    for choice in (["--steps", "2"], ["--to", "0000_seed"]):
        proc = lint(tmp_path, db_url, pg_server_url, folder, "--down", *choice, "--fail-on", "warning")
        assert proc.returncode == 7, proc.stdout + proc.stderr
        doc = json.loads(proc.stdout)
        assert [m["tag"] for m in doc["migrations"]] == ["0002_b_idx", "0001_a_idx"]  # newest first, as undone
        newest, older = doc["migrations"]
        assert [f for s in newest["statements"] for f in s["findings"]] == []
        assert older["file"].endswith("0001_a_idx.down.sql")
        (flagged,) = [s for s in older["statements"] if s["findings"]]
        assert flagged["line"] == 3 and [f["rule"] for f in flagged["findings"]] == ["drop-index-not-concurrent"]
        assert any(lk["relation"] == "public.users" and lk["mode"] == "AccessExclusiveLock" for lk in flagged["locks"])
    text = run_in_process(["db.lint", "--down", "--steps", "2", "-m", str(folder), "-u", db_url, "-s", pg_server_url],
                          cwd=tmp_path)  # fmt: skip
    assert text.returncode == 0  # a warning: below the default --fail-on error
    assert "0001_a_idx.down.sql:3 [drop-index-not-concurrent]" in text.stdout
    assert tracking(db_url) == before  # the target is never changed


def test_to_or_steps_without_down_or_down_with_other_choices_exit_2(tmp_path, db_url, pg_server_url):
    folder = applied(tmp_path, db_url)
    for args in (["--steps", "1"], ["--to", "0000_seed"], ["--down", "--all"], ["--down", "--migration", "0001"]):
        proc = lint(tmp_path, db_url, pg_server_url, folder, *args)
        assert proc.returncode == 2, (args, proc.stdout + proc.stderr)
        assert "--down" in proc.stderr + proc.stdout


def test_a_missing_down_file_is_refused_as_db_rollback_refuses_it(tmp_path, db_url, pg_server_url):
    folder = applied(tmp_path, db_url)
    (folder / "0002_b_idx.down.sql").unlink()
    proc = lint(tmp_path, db_url, pg_server_url, folder, "--down")
    assert proc.returncode == 2 and "0002_b_idx.down.sql does not exist" in proc.stdout + proc.stderr


def test_with_nothing_applied_it_says_no_down_file_would_run(tmp_path, db_url, pg_server_url):
    folder = make_drizzle_folder(tmp_path, UPS)
    proc = run_in_process(["db.lint", "--down", "-m", str(folder), "-u", db_url, "-s", pg_server_url], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nothing to lint: no applied migration: a rollback would run no down file" in proc.stdout
