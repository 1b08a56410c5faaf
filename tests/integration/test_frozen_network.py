"""Every round trip bounded when the network freezes with TCP alive (db/connect/answer.py, docs/reliability.md
"Bounds on every wait"): a proxy that stops forwarding both ways while every socket stays open. Each command
that waits for the server through it ends with exit 6 "no answer from <host:port> for N s" within twice
network_timeout of the freeze (plus a margin for a loaded machine), no password shown; and a statement that
runs longer than network_timeout on a live network is left to finish (the check's new connection answers)."""

import threading
import time
from pathlib import Path

import psycopg
import pytest
from bench.proxy import LatencyProxy

from migrakit.db.connect import answer, server
from migrakit.db.run.lock import lock_key
from tests.fixtures.cli import migrate_args, run_in_process, wait_for
from tests.fixtures.folders import make_drizzle_folder
from tests.fixtures.inspect import query

BOUND = 2  # network_timeout in these tests, seconds
MARGIN = 15  # seconds on top of 2 x BOUND: a loaded test machine
PASSWORD = "frozen-Secret-42"  # in the URL given to migrakit; the server (trust) never asks for it


@pytest.fixture(autouse=True)
def _restored_bound(monkeypatch):
    """The process-wide bound (answer.within: each command sets it from its settings) as it was, afterwards."""
    monkeypatch.setattr(answer, "_seconds", answer._seconds)


@pytest.fixture
def route(db_url):
    """A proxy in front of the test server, and the URL through it (with a password that must never show)."""
    params = psycopg.conninfo.conninfo_to_dict(db_url)
    host, port = str(params.get("host") or "/tmp"), int(params.get("port") or 5432)
    with LatencyProxy(port, upstream_host="127.0.0.1" if host in ("localhost", "") else host, delay=0.0) as proxy:
        through = psycopg.conninfo.make_conninfo(db_url, host="127.0.0.1", port=str(proxy.port), sslmode="disable",
                                                 password=PASSWORD)  # fmt: skip
        yield proxy, through
        proxy.frozen = False
        proxy.wait_idle(timeout=30)


def _migrations(tmp_path: Path) -> Path:
    return make_drizzle_folder(tmp_path, [("0000_a", "CREATE TABLE a (id int);")])


def _frozen_run(proxy: LatencyProxy, args: list[str], tmp_path: Path, waiting, what: str, **env: str):
    """Run migrakit `args` in-process on a thread; once `waiting()` (the command waits for the server), freeze
    the proxy. Returns (the run's result, seconds from the freeze to its end)."""
    outcome: list = []
    env = {"MIGRAKIT_NETWORK_TIMEOUT": str(BOUND), "NO_COLOR": "1", **env}
    runner = threading.Thread(target=lambda: outcome.append(run_in_process(args, cwd=tmp_path, env=env)), daemon=True)
    runner.start()
    wait_for(waiting, what)
    proxy.frozen = True
    frozen_at = time.monotonic()
    runner.join(timeout=2 * BOUND + MARGIN + 30)
    assert not runner.is_alive(), f"{args[0]} still waits on the frozen network"
    return outcome[0], time.monotonic() - frozen_at


def _assert_no_answer(result, elapsed: float, proxy: LatencyProxy) -> None:
    shown = result.stdout + result.stderr
    assert result.returncode == 6, shown
    assert f"no answer from 127.0.0.1:{proxy.port} for {BOUND} s" in result.stderr, shown
    assert f"network_timeout={BOUND}s" in result.stderr, shown
    assert PASSWORD not in shown and "Traceback" not in shown
    assert elapsed < 2 * BOUND + MARGIN, elapsed


def _waiting_on_lock(db_url: str, application: str) -> bool:
    """A session of `application` waits for a lock (the tracking table held by the test)."""
    return query(db_url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND "
                         "wait_event_type = 'Lock'", application) == [(1,)]  # fmt: skip


@pytest.mark.parametrize("command", ["db.status", "db.check", "db.migrate", "db.migrate --dry-run", "env.check"])
def test_a_read_before_the_plan_on_a_frozen_network_ends_with_exit_6(tmp_path, db_url, pg_server_url, route, command):
    """The tracking rows are being read (held up by a lock on the table, so the freeze lands mid-read): the read
    of db.status and db.check, db.migrate's read under the migration lock, db.migrate --dry-run's, env.check's."""
    proxy, through = route
    folder = _migrations(tmp_path)
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0  # the tracking table exists
    name, *more = command.split()
    args = migrate_args(through, folder, *more) if name == "db.migrate" else [
        name, "--database-url", through, "--migrations-dir", str(folder)]  # fmt: skip
    if name == "db.check":
        args += ["--shadow-url", pg_server_url]
    application = "migrakit-lock" if command == "db.migrate" else "migrakit"
    with psycopg.connect(db_url) as holder:
        holder.execute("SET idle_in_transaction_session_timeout = '60s'")  # a guard: the test never hangs
        holder.execute("LOCK TABLE drizzle.__drizzle_migrations IN ACCESS EXCLUSIVE MODE")
        result, elapsed = _frozen_run(proxy, args, tmp_path, lambda: _waiting_on_lock(db_url, application),
                                      "the read to wait for the tracking table")  # fmt: skip
        holder.rollback()
    _assert_no_answer(result, elapsed, proxy)
    if command == "db.migrate":
        assert "no migration was applied by this run" in result.stderr, result.stderr


def test_waiting_for_the_migration_lock_on_a_frozen_network_ends_with_exit_6_not_the_lock_timeout(
    tmp_path, db_url, route
):
    """Another migrator holds the migration lock; this one polls for it (lock_wait_timeout 120 s) when the
    network freezes: a poll gets no answer, exit 6 within 2 x network_timeout, not exit 4 two minutes later."""
    proxy, through = route
    folder = _migrations(tmp_path)
    with psycopg.connect(db_url) as holder:
        holder.execute("SET idle_in_transaction_session_timeout = '60s'")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("drizzle", "__drizzle_migrations"),))
        result, elapsed = _frozen_run(
            proxy, migrate_args(through, folder), tmp_path,
            lambda: query(db_url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migrakit-lock'")
            == [(1,)] and time.sleep(1.5) is None,  # a poll or two answered: it waits for the lock
            "the migrator to poll for the lock", MIGRAKIT_LOCK_WAIT_TIMEOUT="120",
        )  # fmt: skip
        holder.rollback()
    _assert_no_answer(result, elapsed, proxy)
    assert "no migration was applied by this run" in result.stderr, result.stderr
    assert query(db_url, "SELECT to_regclass('public.a') IS NULL") == [(True,)], "nothing was applied"


def test_a_statement_longer_than_network_timeout_on_a_live_network_is_left_to_finish(tmp_path, db_url, route):
    """pg_sleep(3 x network_timeout) in a migration through the proxy, nothing frozen: the check's new
    connection answers each time, the run succeeds (exit 0). A bare deadline would have cut it."""
    proxy, through = route
    folder = make_drizzle_folder(tmp_path, [
        ("0000_slow", f"CREATE TABLE b (id int);\n--> statement-breakpoint\nSELECT pg_sleep({3 * BOUND});"),
    ])  # fmt: skip
    before = proxy.connections
    result = run_in_process(migrate_args(through, folder), cwd=tmp_path,
                            env={"MIGRAKIT_NETWORK_TIMEOUT": str(BOUND)})  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert proxy.connections - before >= 3, "the run's two connections and at least one check's"
    assert query(db_url, "SELECT count(*) FROM b") == [(0,)]


def test_a_slow_query_through_psycopg_on_a_live_network_is_left_to_finish(route):
    """The same on psycopg's own wait (Answering.wait), outside any migration."""
    proxy, through = route
    answer.within(1)
    before = proxy.connections
    with server.connect(through, autocommit=True) as conn:
        assert conn.execute("SELECT 42 FROM pg_sleep(3)").fetchone() == (42,)
    assert proxy.connections - before >= 2, "the query's connection and at least one check's"


def test_a_ctrl_c_that_lands_in_the_check_cancels_the_statement_as_psycopg_does(db_url, monkeypatch):
    """A Ctrl-C raised while the watch ticks (outside psycopg's select, where psycopg's own handler would not see
    it): the running statement is cancelled, its end is read, the interrupt is raised, and the connection is
    left idle and usable, as after a Ctrl-C anywhere else in a wait."""
    real_tick = answer.Quiet.tick
    fired: list[bool] = []

    def tick(self):
        if time.monotonic() - self.heard_at > 0.5 and not fired:
            fired.append(True)
            raise KeyboardInterrupt
        real_tick(self)

    monkeypatch.setattr(answer.Quiet, "tick", tick)
    answer.within(30)
    with server.connect(db_url, autocommit=True) as conn:
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            conn.execute("SELECT pg_sleep(20)")
        assert fired and time.monotonic() - started < 10, "the statement was cancelled, not waited for"
        assert conn.execute("SELECT 42").fetchone() == (42,)


def test_the_check_is_answered_on_the_route_the_connection_took(db_url, monkeypatch):
    """On the test server's own route (no proxy: a unix socket or TCP, as the URL says), a query silent for
    longer than network_timeout is checked, the check is answered (SSLRequest, before any authentication), and
    the query finishes."""
    real = answer.Quiet._answered
    answers: list[bool] = []
    monkeypatch.setattr(answer.Quiet, "_answered", lambda self: answers.append(real(self)) or answers[-1])
    answer.within(1)
    with server.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT 42 FROM pg_sleep(2.5)").fetchone() == (42,)
        route = answer.where(conn)
    assert True in answers, f"no check was answered on {route}"


def test_through_pgbouncer_the_pooler_answers_the_check_and_a_long_statement_finishes(
    tmp_path, db_url, pgbouncer_transaction, monkeypatch
):
    """Behind a pooler the check's SSLRequest is the pooler's to answer (PgBouncer does at once, whatever its
    pools hold): a statement longer than network_timeout through PgBouncer is checked and left to finish."""
    real = answer.Quiet._answered
    answers: list[bool] = []
    monkeypatch.setattr(answer.Quiet, "_answered", lambda self: answers.append(real(self)) or answers[-1])
    url = pgbouncer_transaction.url(psycopg.conninfo.conninfo_to_dict(db_url)["dbname"])
    folder = make_drizzle_folder(tmp_path, [
        ("0000_slow", "CREATE TABLE c (id int);\n--> statement-breakpoint\nSELECT pg_sleep(3);"),
    ])  # fmt: skip
    result = run_in_process(migrate_args(url, folder), cwd=tmp_path, env={"MIGRAKIT_NETWORK_TIMEOUT": "1"})
    assert result.returncode == 0, result.stdout + result.stderr + pgbouncer_transaction.log()
    assert True in answers, "no check was answered"
    assert query(db_url, "SELECT count(*) FROM c") == [(0,)]
