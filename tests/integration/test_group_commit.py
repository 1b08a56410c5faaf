"""Group commit (db/run/strategies/pipelined.py): in a pipelined batch every migration's COMMIT but the batch's last
is asynchronous, and the last one's WAL flush makes all of them durable. A failed batch flushes what it committed
before it reports. Proven on a server of its own with fsync on (the tests' shared servers run with fsync off),
crashed with `pg_ctl stop -m immediate` right after the run: every migration the run reported applied is still
there, applied and tracked."""

from __future__ import annotations

import psycopg
import pytest
from bench.pg import Postgres

from tests.fixtures.cli import migrate_args, run_in_process
from tests.fixtures.folders import make_drizzle_folder

GOOD = [(f"000{i}_t{i}", f"CREATE TABLE t{i} (id int);\nINSERT INTO t{i} SELECT generate_series(1, 2000);") for i in range(4)]


def _after_crash(pg: Postgres, url: str) -> tuple[list[str], int]:
    """The tables and the tracking rows after a crash and a restart."""
    pg.crash_and_restart()
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        rows = conn.execute("SELECT count(*) FROM drizzle.__drizzle_migrations").fetchone()
    return tables, rows[0] if rows else 0


@pytest.mark.crash
def test_a_server_crash_right_after_a_run_keeps_every_migration_it_applied(tmp_path):
    with Postgres() as pg:
        url = pg.url_of(pg.new_database())
        folder = make_drizzle_folder(tmp_path, GOOD)
        result = run_in_process(migrate_args(url, folder), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "applied 4 migration(s)" in result.stdout
        assert _after_crash(pg, url) == (["t0", "t1", "t2", "t3"], 4)


@pytest.mark.crash
def test_a_server_crash_right_after_a_failed_run_keeps_every_migration_it_reported_applied(tmp_path):
    with Postgres() as pg:
        url = pg.url_of(pg.new_database())
        folder = make_drizzle_folder(tmp_path, [*GOOD, ("0004_bad", "SELECT * FROM nowhere;")])
        result = run_in_process(migrate_args(url, folder), cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert "0000_t0, 0001_t1, 0002_t2, 0003_t3" in result.stderr  # what stayed applied, as the error says
        assert _after_crash(pg, url) == (["t0", "t1", "t2", "t3"], 4)
