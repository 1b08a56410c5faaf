"""The strategy contract (core/strategy.py), one suite for every execution strategy, on a real server.

Each strategy is built on its own connection and driven only through the contract (lock, tracking_rows, apply)
plus what a runner does around it (create the tracking table, plan with core/plan/planner.py). The expectations are
the same for all, except where a strategy documents otherwise: `--single-transaction` is Drizzle's migrator, one
transaction for the run, so a failure leaves nothing of the run, and it has no guards (exactly-once rests on
the lock there, as under Drizzle); a migration that runs outside a wrapping transaction (its own BEGIN/COMMIT)
commits its statements before its guards run, so exactly-once rests on the lock and the progress table there.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from migrakit.core.plan.planner import plan
from migrakit.core.strategy import Strategy as StrategyProtocol
from migrakit.db import tracking
from migrakit.db.run.executor import Executor
from migrakit.db.run.guards import AppliedElsewhere
from migrakit.db.run.lock import apply_key
from migrakit.db.run.strategies.base import Options, Run
from migrakit.db.run.strategies.drizzle_transaction import SingleTransaction
from migrakit.db.run.strategies.mode2 import Mode2
from migrakit.db.run.strategies.outside import Outside
from migrakit.db.run.strategies.pipelined import Pipelined
from migrakit.db.run.strategies.plain import Plain
from migrakit.errors import MigrationFailed
from migrakit.sources.consolidated import load_consolidated
from migrakit.sources.folders import load_folder
from tests.fixtures.folders import BASE_WHEN, make_consolidation, make_drizzle_folder

SCHEMA, TABLE = "drizzle", "__drizzle_migrations"
BP = "\n--> statement-breakpoint\n"
GOOD = [
    ("0000_a", "CREATE TABLE a (id int);" + BP + "INSERT INTO a VALUES (1);"),
    ("0001_b", "CREATE TABLE b (id int);" + BP + "INSERT INTO b VALUES (2);"),
    ("0002_c", "CREATE TABLE c (id int);"),
]
BROKEN_B = ("0001_b", "CREATE TABLE b (id int);" + BP + "INSERT INTO nope VALUES (2);")  # fails at statement 2


@dataclass(frozen=True)
class Strategy:
    name: str
    make: Callable[[psycopg.Connection, Options], Run]
    options: Options
    mode2: bool = False  # runs Mode 2 files (one multi-statement query each)
    own_transaction: bool = False  # runs files holding their own BEGIN/COMMIT, outside a wrapping transaction
    whole_run: bool = False  # one transaction for the run (--single-transaction): a failure keeps nothing
    guarded: bool = True  # every migration transaction re-checks, under its own lock, that it is not applied
    failed_state: str = "nothing from {tag} was applied (its transaction was rolled back); tracking table unchanged"


STRATEGIES = {
    s.name: s
    for s in (
        Strategy("mode1-pipelined", Pipelined, Options(pipeline=True)),
        Strategy("mode1-plain", Plain, Options(pipeline=False)),
        Strategy("single-transaction", SingleTransaction, Options(single_transaction=True), whole_run=True, guarded=False),
        Strategy("mode2", Mode2, Options(), mode2=True),
        Strategy("outside-transaction", Outside, Options(), own_transaction=True, guarded=False,
                 failed_state="nothing from {tag} was applied; tracking table unchanged"),
        Strategy("executor-default", Executor, Options()),
    )
}


@pytest.fixture(params=sorted(STRATEGIES))
def strategy(request: pytest.FixtureRequest) -> Strategy:
    return STRATEGIES[request.param]


def files(strategy: Strategy, tmp_path: Path, spec: list[tuple[str, str]]) -> tuple[list, dict[str, tuple[str, int]]]:
    """The migrations as the strategy runs them, and what Drizzle writes for each: (sha256 of the file's bytes,
    created_at), computed here from the bytes written, not by migrakit."""
    expected = {}
    if strategy.mode2:
        folder = tmp_path / "consolidated"
        for i, (tag, body) in enumerate(spec):
            text = body.replace(BP, "\n") + "\n"  # one file, several statements, no breakpoints
            when = BASE_WHEN + i * 1000
            path = make_consolidation(folder, tag, text, when, [(f"r{i}", when - 1, "0" * 64)])
            expected[tag] = (hashlib.sha256(path.read_bytes()).hexdigest(), when)
        return list(load_consolidated(folder, tmp_path)), expected
    if strategy.own_transaction:
        spec = [(tag, "BEGIN;\n" + body.replace(BP, "\n") + "\nCOMMIT;") for tag, body in spec]
    folder = make_drizzle_folder(tmp_path, spec)
    for i, (tag, _) in enumerate(spec):
        expected[tag] = (hashlib.sha256((folder / f"{tag}.sql").read_bytes()).hexdigest(), BASE_WHEN + i * 1000)
    return list(load_folder(folder, tmp_path).migrations), expected


def driver(strategy: Strategy, url: str) -> tuple[Run, psycopg.Connection]:
    conn = psycopg.connect(url, autocommit=True)
    d = strategy.make(conn, strategy.options)
    assert isinstance(d, StrategyProtocol)
    return d, conn


def run(d: Run, migrations: list) -> list[str]:
    """What a runner does with a driver: under the lock, create the table, read it, plan, apply what is pending."""
    with d.lock(timeout=30):
        tracking.ensure_table(d.conn, SCHEMA, TABLE)
        pending = plan(migrations, d.tracking_rows()).pending
        return d.apply(list(pending))


def rows(url: str) -> list[tuple[str, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT hash, created_at FROM {SCHEMA}.{TABLE} ORDER BY id").fetchall()


def columns(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position", (SCHEMA, TABLE))]  # fmt: skip


def tables(url: str) -> dict[str, int]:
    """Each public table and its row count."""
    with psycopg.connect(url) as conn:
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        return {n: conn.execute(f'SELECT count(*) FROM public."{n}"').fetchone()[0] for n in names}


def test_applies_every_migration_and_tracks_it_as_drizzle_does(strategy, tmp_path, db_url):
    migrations, expected = files(strategy, tmp_path, GOOD)
    d, conn = driver(strategy, db_url)
    with conn:
        assert run(d, migrations) == ["0000_a", "0001_b", "0002_c"]
        assert d.applied == ["0000_a", "0001_b", "0002_c"]
        assert [(r.hash, r.created_at) for r in d.tracking_rows()] == [expected[t] for t in ("0000_a", "0001_b", "0002_c")]
    assert rows(db_url) == [expected[t] for t in ("0000_a", "0001_b", "0002_c")]
    assert columns(db_url) == ["id", "hash", "created_at"]  # Drizzle 0.x's table, nothing added
    assert tables(db_url) == {"a": 1, "b": 1, "c": 0}


def test_a_failure_in_the_second_migration_leaves_the_documented_state(strategy, tmp_path, db_url):
    migrations, expected = files(strategy, tmp_path, [GOOD[0], BROKEN_B, GOOD[2]])
    d, conn = driver(strategy, db_url)
    with conn, pytest.raises(MigrationFailed) as info:
        run(d, migrations)
    err = info.value
    text, stmts = migrations[1].text, migrations[1].statements
    at = text.index("nope")
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    number = next(i for i, st in enumerate(stmts, 1) if "nope" in st.text)  # 2, or 3 after the file's own BEGIN
    assert (err.migration, err.statement_no, err.statement_count) == ("0001_b", number, len(stmts))
    assert (err.file, err.line, err.col) == (migrations[1].path, line, col)
    assert err.sqlstate == "42P01" and "relation \"nope\" does not exist" in err.cause
    if strategy.whole_run:  # Drizzle's single transaction: the run is rolled back whole
        assert err.state.startswith("nothing from this run was applied: Drizzle's single transaction was rolled back")
        assert d.applied == [] and rows(db_url) == [] and tables(db_url) == {}
    else:  # one transaction per migration: the first stays, the failed one is rolled back, the third never ran
        assert err.state == strategy.failed_state.format(tag="0001_b")
        assert d.applied == ["0000_a"] and rows(db_url) == [expected["0000_a"]] and tables(db_url) == {"a": 1}


def test_a_second_run_is_a_no_op(strategy, tmp_path, db_url):
    migrations, expected = files(strategy, tmp_path, GOOD)
    first, conn = driver(strategy, db_url)
    with conn:
        run(first, migrations)
    before = (rows(db_url), tables(db_url))
    again, conn = driver(strategy, db_url)
    with conn:
        assert run(again, migrations) == [] and again.applied == []
    assert (rows(db_url), tables(db_url)) == before
    if strategy.guarded:  # handed an applied migration anyway, the transaction finds its row and changes nothing
        forced, conn = driver(strategy, db_url)
        with conn, pytest.raises(AppliedElsewhere) as info:
            forced.apply(migrations[:1])
        assert not info.value.busy and forced.applied == []
        assert (rows(db_url), tables(db_url)) == before


def test_concurrent_runs_apply_each_migration_exactly_once(strategy, tmp_path, db_url):
    migrations, expected = files(strategy, tmp_path, GOOD)
    start = threading.Barrier(4)
    results: list[list[str]] = []
    failures: list[BaseException] = []

    def racer() -> None:
        d, conn = driver(strategy, db_url)
        with conn:
            start.wait(timeout=30)
            try:
                results.append(run(d, migrations))
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=racer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    applied = sorted(tag for r in results for tag in r)
    assert applied == ["0000_a", "0001_b", "0002_c"]  # each applied by exactly one racer
    assert rows(db_url) == [expected[t] for t in ("0000_a", "0001_b", "0002_c")]
    assert tables(db_url) == {"a": 1, "b": 1, "c": 0}


@pytest.mark.parametrize("guarded", sorted(n for n, s in STRATEGIES.items() if s.guarded))
def test_without_the_lock_the_guards_still_apply_a_migration_once(guarded, tmp_path, db_url):
    """Not --single-transaction: Drizzle's migrator has no guards, exactly-once rests on the lock there."""
    strategy = STRATEGIES[guarded]
    migrations, expected = files(strategy, tmp_path, GOOD[:1])
    with psycopg.connect(db_url, autocommit=True) as setup:
        tracking.ensure_table(setup, SCHEMA, TABLE)
    other = psycopg.connect(db_url)  # another migrator's migration transaction, open
    other.execute("SELECT pg_advisory_xact_lock(%s)", (apply_key(SCHEMA, TABLE),))
    try:
        d, conn = driver(strategy, db_url)
        with conn, pytest.raises(AppliedElsewhere) as info:
            d.apply(migrations)
        assert info.value.busy and rows(db_url) == [] and tables(db_url) == {}
    finally:
        other.rollback()
        other.close()
    d, conn = driver(strategy, db_url)
    with conn:
        assert d.apply(migrations) == ["0000_a"]
    assert rows(db_url) == [expected["0000_a"]]
