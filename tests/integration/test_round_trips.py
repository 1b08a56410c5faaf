"""What a command asks the server, message by message, seen by a TCP proxy between migrakit and the test server
(bench/proxy.py with no added delay). Connection set-up (SSLRequest, StartupMessage) and Terminate are left out:
what is left are the messages the command waits on, plus the lock's closing ROLLBACK (sent, never waited for).

The issue's promise: a target that is up to date costs one round trip after connecting (the fleet's reruns),
db.status one, and a run that applies asks for the lock and the rows together, then sends one pipelined batch
(with the tracking table's CREATE at its head on a new database) and one Sync."""

from __future__ import annotations

import bench.proxy
import psycopg
import pytest
from bench.proxy import LatencyProxy

from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate
from migrakit.workflows.status import status
from migrakit.workflows.upgrade_tracking import upgrade_tracking
from tests.fixtures.folders import make_drizzle_folder

MIGRATIONS = [
    ("0000_a", "CREATE TABLE a (id int PRIMARY KEY);"),
    ("0001_b", "CREATE TABLE b (id int PRIMARY KEY);\n--> statement-breakpoint\nCREATE INDEX b_id ON b (id);"),
]
ROLLBACK = b"Q\x00\x00\x00\rROLLBACK\x00"
TERMINATE = b"X\x00\x00\x00\x04"
SYNC = b"S\x00\x00\x00\x04"


@pytest.fixture
def proxied(db_url):
    """(direct URL, the same database through the proxy, the proxy)."""
    params = psycopg.conninfo.conninfo_to_dict(db_url)
    host, port = str(params.get("host") or "/tmp"), int(params.get("port") or 5432)
    with LatencyProxy(port, upstream_host="127.0.0.1" if host in ("localhost", "") else host, delay=0.0) as proxy:
        through = psycopg.conninfo.make_conninfo(db_url, host="127.0.0.1", port=str(proxy.port), sslmode="disable")
        proxy.trace = []
        yield db_url, through, proxy


def asked(proxy: LatencyProxy) -> list[bytes]:
    """The messages of the command's bursts, set-up and Terminate left out (a startup packet starts with its
    length, whose first byte is 0; every other message starts with its type letter)."""
    proxy.wait_idle()
    return [data for _, data in proxy.trace or () if data[:1] not in (b"\x00", b"X")]


def settings(root, url):
    return load_settings(root, env={}, database_url=url, migrations_dir=str(root / "migrations"))


def test_an_up_to_date_target_costs_one_round_trip(tmp_path, proxied):
    direct, through, proxy = proxied
    make_drizzle_folder(tmp_path, MIGRATIONS)
    assert migrate(settings(tmp_path, direct)).applied == ["0000_a", "0001_b"]

    report = migrate(settings(tmp_path, through))

    assert report.applied == []
    messages = asked(proxy)
    assert len(messages) == 2, messages
    lock = messages[0]
    assert lock.startswith(b"Q") and b"BEGIN; SELECT" in lock
    assert b"pg_try_advisory_xact_lock" in lock and b"pg_is_in_recovery()" in lock
    assert b'SELECT * FROM "drizzle"."__drizzle_migrations" ORDER BY id' in lock
    # The lock's release: ROLLBACK, then Terminate in the same burst (its answer is not waited for).
    assert messages[1] in (ROLLBACK, ROLLBACK + TERMINATE)
    assert proxy.connections == 2  # the migrating connection and the lock's, opened at once


def test_status_costs_one_round_trip(tmp_path, proxied):
    direct, through, proxy = proxied
    make_drizzle_folder(tmp_path, MIGRATIONS)
    migrate(settings(tmp_path, direct))

    report = status(settings(tmp_path, through))

    assert [m.tag for m, _ in report.plan.applied] == ["0000_a", "0001_b"] and not report.plan.pending
    messages = asked(proxy)
    assert len(messages) == 1, messages
    assert b"pg_backend_pid()" in messages[0] and b"__drizzle_migrations" in messages[0]


def test_a_first_run_reads_once_then_creates_the_table_and_applies_in_one_more(tmp_path, proxied):
    _, through, proxy = proxied
    make_drizzle_folder(tmp_path, MIGRATIONS)

    report = migrate(settings(tmp_path, through))

    assert report.applied == ["0000_a", "0001_b"]
    messages = asked(proxy)
    # The lock's message, then one pipelined burst: the tracking table's CREATE (its own transaction, first) and
    # the migrations, each statement alone (Parse/Bind/Execute); then the lock's release, not waited for.
    assert len(messages) == 3, messages
    assert b"pg_try_advisory_xact_lock" in messages[0]
    body = messages[1]
    assert not any(b"pg_catalog.pg_class" in m for m in messages)  # the read said the table was missing
    create, table, guard = (
        body.index(b"CREATE SCHEMA IF NOT EXISTS"), body.index(b"CREATE TABLE IF NOT EXISTS"), body.index(b"pg_try_advisory_xact_lock")
    )
    assert create < table < body.index(b"COMMIT") < guard  # committed before the first migration's guard
    assert body.count(b"CREATE TABLE") == 3 and b"CREATE INDEX b_id" in body
    assert body.count(SYNC) == 1  # one Sync, at the end
    assert messages[-1] in (ROLLBACK, ROLLBACK + TERMINATE)


def test_a_batch_sends_one_sync_however_long(tmp_path, proxied, monkeypatch):
    """95 migrations are 1,045 commands (BEGIN, settings, two guards, the statement, the row, COMMIT): past the
    1,000 where a batch used to stop for a Sync's answer (a round trip with the server idle), one Sync still."""
    _, through, proxy = proxied
    monkeypatch.setattr(bench.proxy, "TRACE_BYTES", 1 << 20)
    make_drizzle_folder(tmp_path, [(f"{i:04d}_m", f"CREATE TABLE m{i} (id int);") for i in range(95)])

    report = migrate(settings(tmp_path, through))

    assert len(report.applied) == 95
    messages = asked(proxy)
    queued = b"".join(messages[1:-1])
    assert queued.count(b"CREATE TABLE m") == 95
    assert queued.count(SYNC) == 1 and queued.endswith(SYNC)


def test_upgrade_tracking_reads_the_table_in_the_locks_message(tmp_path, proxied):
    """db.upgrade-tracking on a Drizzle 1.0 table with every row named: the lock's message (rows, columns,
    existence) and the lock's release, nothing else; both connections opened at once."""
    direct, through, proxy = proxied
    folder = tmp_path / "migrations" / "20250101000000_first"
    folder.mkdir(parents=True)
    (folder / "migration.sql").write_text('CREATE TABLE "first" ("id" int);')
    assert migrate(settings(tmp_path, direct)).applied == ["20250101000000_first"]

    report = upgrade_tracking(settings(tmp_path, through), yes=True)

    assert report.upgrade is None and "already has Drizzle 1.0's columns" in report.note
    messages = asked(proxy)
    assert len(messages) == 2, messages
    assert b"pg_try_advisory_xact_lock" in messages[0] and b"__drizzle_migrations" in messages[0]
    assert messages[1] in (ROLLBACK, ROLLBACK + TERMINATE)
    assert proxy.connections == 2
