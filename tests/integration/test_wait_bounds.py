"""Bounds on waits that have no other test (docs/reliability.md "Bounds on every wait"): TCP keepalives on
every connection (a silent server or network ends the wait), a network frozen with TCP alive (network_timeout),
and a drizzle-kit that never finishes is stopped with an error naming it."""

import os
import stat

import pytest

from migrakit.db.connect import server
from migrakit.errors import MigrakitError
from migrakit.sources.config import load_settings
from migrakit.workflows import generate
from tests.fixtures.folders import make_drizzle_folder


def test_connections_carry_tcp_keepalives(db_url):
    with server.connect(db_url) as conn:
        params = psycopg_params(conn)
    assert {k: params.get(k) for k in server.KEEPALIVES} == server.KEEPALIVES


def test_keepalive_parameters_in_the_url_win(db_url):
    url = db_url + ("&" if "?" in db_url else "?") + "keepalives_idle=7"
    with server.connect(url) as conn:
        params = psycopg_params(conn)
    assert params["keepalives_idle"] == "7" and params["keepalives_count"] == "3"


@pytest.mark.parametrize(("system", "release", "counts"), [
    ("Linux", "5.10.209-1", True), ("Linux", "5.11.0", False), ("Linux", "6.18.44-fc-v1300", False),
    ("Darwin", "23.4.0", True), ("Linux", "unknown", True),
])  # fmt: skip
def test_tcp_user_timeout_is_set_only_where_a_zero_window_does_not_count(system, release, counts):
    assert server._kernel_counts_zero_window(system, release) is counts


def test_connections_carry_tcp_user_timeout_where_the_kernel_allows_it(db_url):
    import platform

    with server.connect(db_url) as conn:
        params = psycopg_params(conn)
    wanted = not server._kernel_counts_zero_window(platform.system(), platform.release())
    assert (params.get("tcp_user_timeout") == server.TCP_USER_TIMEOUT["tcp_user_timeout"]) is wanted
    with server.connect(db_url + ("&" if "?" in db_url else "?") + "tcp_user_timeout=0") as conn:
        assert psycopg_params(conn)["tcp_user_timeout"] == "0"  # the URL's own wins


def psycopg_params(conn):
    from psycopg.conninfo import conninfo_to_dict

    return {k: str(v) for k, v in conninfo_to_dict(conn.info.dsn).items()}


def test_a_drizzle_kit_that_never_finishes_is_stopped(tmp_path, monkeypatch):
    """A stand-in `npx` that waits forever (as drizzle-kit waiting on a prompt nobody sees would)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "npx"
    fake.write_text("#!/bin/sh\necho 'Is the column renamed? (waiting)' >&2\nexec sleep 600\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(generate, "DRIZZLE_KIT_TIMEOUT", 1)
    folder = make_drizzle_folder(tmp_path, [("0000_init", "CREATE TABLE t (id int);")])
    (tmp_path / "drizzle.config.ts").write_text("export default {}\n")
    settings = load_settings(tmp_path, env={}, database_url="postgresql://unused@127.0.0.1:1/x", migrations_dir=str(folder))
    with pytest.raises(MigrakitError) as info:
        generate.with_drizzle_kit(settings, None, tmp_path / "drizzle.config.ts")
    assert "did not finish within 1 s" in info.value.message
    assert "Is the column renamed?" in (info.value.cause or "")
    assert "npx drizzle-kit generate" in (info.value.fix or "")


@pytest.fixture
def short_bookkeeping_timeout(monkeypatch):
    from migrakit.db import tracking

    monkeypatch.setattr(tracking, "LOCK_TIMEOUT", "500ms", raising=False)
    monkeypatch.setattr(tracking, "BOUNDED", "set_config('lock_timeout', '500ms', true)", raising=False)


@pytest.mark.parametrize("command", ["db.migrate", "db.status"])
def test_a_locked_tracking_table_ends_the_wait_naming_the_holder(db_url, tmp_path, short_bookkeeping_timeout, command):
    """Another session holds ACCESS EXCLUSIVE on the tracking table (a LOCK TABLE, an ALTER in progress): the
    bookkeeping reads used to wait forever; now they give up after their lock_timeout, exit 4, name the pid."""
    import psycopg

    from tests.fixtures.cli import migrate_args, run_in_process
    from tests.fixtures.inspect import tracked

    folder = make_drizzle_folder(tmp_path, [("0000_a", "CREATE TABLE a (id int);")])
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0
    make_drizzle_folder(tmp_path, [("0000_a", "CREATE TABLE a (id int);"), ("0001_b", "CREATE TABLE b (id int);")])
    with psycopg.connect(db_url) as holder:
        holder.execute("SET idle_in_transaction_session_timeout = '15s'")  # a hang guard: unbounded, it would wait 15 s
        holder.execute("LOCK TABLE drizzle.__drizzle_migrations IN ACCESS EXCLUSIVE MODE")
        pid = holder.info.backend_pid
        args = migrate_args(db_url, folder) if command == "db.migrate" else [command, "--database-url", db_url, "--migrations-dir", str(folder)]
        result = run_in_process(args, cwd=tmp_path)
        holder.rollback()
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"pid {pid} holds AccessExclusiveLock" in result.stderr, result.stderr
    assert f"pg_terminate_backend({pid})" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(tracked(db_url)) == 1


def test_a_locked_progress_table_ends_the_wait_naming_the_holder(db_url, tmp_path, short_bookkeeping_timeout):
    """migrakit.statement_progress (the resume record of migrations that run outside a transaction) is read and
    created as bookkeeping too: another session's ACCESS EXCLUSIVE lock on it ends the wait after the bookkeeping
    lock_timeout, exit 4 naming the pid, instead of waiting for ever; nothing more is applied."""
    import psycopg

    from tests.fixtures.cli import migrate_args, run_in_process
    from tests.fixtures.inspect import tracked

    first = [("0000_a", "CREATE TABLE a (id int);"), ("0001_ia", "CREATE INDEX CONCURRENTLY ia ON a (id);")]
    folder = make_drizzle_folder(tmp_path, first)
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0  # creates the progress table
    make_drizzle_folder(tmp_path, [*first, ("0002_ib", "CREATE INDEX CONCURRENTLY ib ON a (id);")])
    with psycopg.connect(db_url) as holder:
        holder.execute("SET idle_in_transaction_session_timeout = '15s'")  # a hang guard: unbounded, it would wait 15 s
        holder.execute("LOCK TABLE migrakit.statement_progress IN ACCESS EXCLUSIVE MODE")
        pid = holder.info.backend_pid
        result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
        holder.rollback()
    assert result.returncode == 4, result.stdout + result.stderr
    assert "migrakit's progress table" in result.stderr and "stayed locked by another session" in result.stderr
    assert f"pid {pid} holds AccessExclusiveLock" in result.stderr, result.stderr
    assert f"pg_terminate_backend({pid})" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(tracked(db_url)) == 2
    again = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(tracked(db_url)) == 3


FROZEN_BOUND = 2  # network_timeout for the frozen-network test, seconds


def test_a_network_frozen_with_tcp_alive_ends_the_run_with_exit_6_and_nothing_applied_twice(tmp_path, db_url,
                                                                                              monkeypatch):
    """A proxy that stops forwarding both ways mid-statement while every socket stays open (keepalives answered):
    the run ends within twice network_timeout (a check once the server was silent for network_timeout, given as
    long to connect) plus a margin, exit 6 saying so and what was rolled back; after the network thaws a re-run
    leaves each migration applied once. More commands and waits: test_frozen_network.py."""
    import threading
    import time

    import psycopg
    from bench.proxy import LatencyProxy

    from migrakit.db.connect import answer
    from migrakit.workflows.migrate import migrate
    from tests.fixtures.cli import wait_for
    from tests.fixtures.inspect import query, tracked

    monkeypatch.setattr(answer, "_seconds", answer._seconds)  # the process-wide bound the run sets, restored after

    make_drizzle_folder(tmp_path, [
        ("0000_a", "CREATE TABLE a (id int);"),
        ("0001_slow", "CREATE TABLE b (id int);\n--> statement-breakpoint\nSELECT pg_sleep(3);\n"
                      "--> statement-breakpoint\nINSERT INTO b VALUES (1);"),
    ])  # fmt: skip
    params = psycopg.conninfo.conninfo_to_dict(db_url)
    host, port = str(params.get("host") or "/tmp"), int(params.get("port") or 5432)

    def settings(url):
        return load_settings(tmp_path, env={"MIGRAKIT_NETWORK_TIMEOUT": str(FROZEN_BOUND)}, database_url=url,
                             migrations_dir=str(tmp_path / "migrations"))  # fmt: skip

    with LatencyProxy(port, upstream_host="127.0.0.1" if host in ("localhost", "") else host, delay=0.0) as proxy:
        through = psycopg.conninfo.make_conninfo(db_url, host="127.0.0.1", port=str(proxy.port), sslmode="disable")
        outcome: list[BaseException | None] = []

        def run():
            try:
                migrate(settings(through))
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        runner = threading.Thread(target=run, daemon=True)
        runner.start()
        wait_for(lambda: query(db_url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(3)%' "
                               "AND state = 'active'") == [(1,)], "the slow statement to run")  # fmt: skip
        proxy.frozen = True
        frozen_at = time.monotonic()
        runner.join(timeout=2 * FROZEN_BOUND + 10)
        elapsed = time.monotonic() - frozen_at
        assert not runner.is_alive(), "db.migrate still waits on the frozen network"
        err = outcome[0]
        assert isinstance(err, MigrakitError) and err.exit_code == 6, err
        assert elapsed < 2 * FROZEN_BOUND + 10
        assert err.message.startswith(f"no answer from 127.0.0.1:{proxy.port} for {FROZEN_BOUND} s: "), err.message
        assert "0001_slow" in err.message and "network_timeout=2s" in str(err.fix)
        assert err.state
        proxy.frozen = False
        proxy.wait_idle(timeout=30)

    wait_for(lambda: query(db_url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(3)%' "
                           "AND state <> 'idle'") == [(0,)], "the frozen run's backend to end")  # fmt: skip
    again = migrate(settings(db_url))
    assert len(tracked(db_url, "created_at")) == 2
    assert query(db_url, "SELECT count(*) FROM b") == [(1,)]
    assert set(again.applied) <= {"0001_slow"}
