"""SIGINT (Ctrl-C) and SIGTERM (docker stop, a Kubernetes rollout, a CI cancel) during `db.migrate`: the running
statement is cancelled, the migration's transaction rolled back, the error says what stayed applied and what was
rolled back, and the exit code is the shell's for the signal (130, 143). Real signals to a real `migrakit`
process; a second Ctrl-C exits at once. No backend is left running."""

import os
import signal
import time

import pytest

from tests.fixtures.cli import backend_running, freeze_backend, migrate_args, migrator_sessions, start_cli, wait_for
from tests.fixtures.folders import make_drizzle_folder
from tests.fixtures.inspect import query, tracked

MIGRATIONS = [
    ("0000_first", 'CREATE TABLE "first" ("id" integer);'),
    ("0001_sleep", 'CREATE TABLE "slept" ("id" integer);\n--> statement-breakpoint\nSELECT pg_sleep(30);'),
    ("0002_after", 'CREATE TABLE "after" ("id" integer);'),
]


def _interrupt(db_url, tmp_path, signum, *, pipeline=True):
    folder = make_drizzle_folder(tmp_path, MIGRATIONS)
    proc = start_cli(migrate_args(db_url, folder), cwd=tmp_path, env={"MIGRAKIT_PIPELINE": str(pipeline).lower()})
    try:
        wait_for(lambda: backend_running(db_url, "pg_sleep(30)"), "the migration's pg_sleep to run", timeout=60)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)  # a hang guard: the cancel takes milliseconds
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err


@pytest.mark.parametrize(("signum", "code", "name"), [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
@pytest.mark.parametrize("pipeline", [True, False])
def test_a_signal_cancels_the_statement_and_rolls_back_the_migration(db_url, tmp_path, signum, code, name, pipeline):
    returncode, out, err = _interrupt(db_url, tmp_path, signum, pipeline=pipeline)
    assert returncode == code, err
    assert f"interrupted by {name} while 0001_sleep ran at statement 2 of 2" in err, err
    assert "applied and kept in this run: 0000_first" in err
    assert "not applied (rolled back or not started): 0001_sleep, 0002_after" in err
    assert "Traceback" not in err
    assert len(tracked(db_url)) == 1
    assert query(db_url, "SELECT to_regclass('slept') IS NULL, to_regclass('first') IS NOT NULL") == [(True, True)]
    assert not backend_running(db_url, "pg_sleep(30)")
    assert migrator_sessions(db_url) == 0


def test_a_second_ctrl_c_exits_at_once(db_url, tmp_path):
    """The first Ctrl-C cannot finish (the backend is stopped with SIGSTOP, so the cancel is not acted on and the
    client waits for it); the second exits without waiting, with its own line and code 130. Once the backend
    runs again the server ends the session and rolls its transaction back."""
    folder = make_drizzle_folder(tmp_path, MIGRATIONS)
    proc = start_cli(migrate_args(db_url, folder), cwd=tmp_path)
    pid = None
    try:
        wait_for(lambda: backend_running(db_url, "pg_sleep(30)"), "the migration's pg_sleep to run", timeout=60)
        pid = freeze_backend(db_url, "pg_sleep(30)")
        proc.send_signal(signal.SIGINT)
        time.sleep(1)  # Python runs one handler for two signals that arrive before it looks: let the first be seen
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)  # a hang guard
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted again (SIGINT): exiting now" in err, err
    assert "while 0001_sleep ran" not in err  # it did not wait for the rollback
    wait_for(lambda: not backend_running(db_url, "pg_sleep(30)"), "the server to end the session", timeout=40)
    assert len(tracked(db_url)) == 1
    assert query(db_url, "SELECT to_regclass('slept') IS NULL") == [(True,)]
