"""Statements too large to pipeline: a 60 MB `INSERT ... VALUES` is applied (it used to hang forever, client
and server both waiting, in the default pipelined mode), and statements just under the limit still pipeline
without deadlocking at a Sync. Real `migrakit db.migrate` processes on a real server; the subprocess timeout
is a hang guard, not a timing assertion (memory is measured in bench/, not here)."""

import pytest

from migrakit.db.run.strategies.pipelined import PIPELINE_STATEMENT_LIMIT
from tests.fixtures.cli import migrate_args, run_cli
from tests.fixtures.folders import make_drizzle_folder
from tests.fixtures.inspect import query, tracked

ROW = "({i}, '{pad}')"
PAD = "x" * 90


def insert(first: int, size: int) -> tuple[str, int]:
    """An INSERT INTO big of about `size` characters starting at id `first`; returns (sql, rows)."""
    per_row = len(ROW.format(i=first + 10**6, pad=PAD)) + 2
    n = max(1, size // per_row)
    values = ",\n".join(ROW.format(i=i, pad=PAD) for i in range(first, first + n))
    return f'INSERT INTO "big" ("id", "pad") VALUES\n{values};', n


@pytest.mark.slow
def test_a_60_mb_statement_is_applied_outside_the_pipeline(db_url, tmp_path):
    giant, rows = insert(0, 60_000_000)
    assert len(giant) > 59_000_000 > PIPELINE_STATEMENT_LIMIT
    folder = make_drizzle_folder(
        tmp_path,
        [
            ("0000_table", 'CREATE TABLE "big" ("id" integer PRIMARY KEY, "pad" text NOT NULL);'),
            ("0001_other", 'CREATE TABLE "other" ("id" integer);'),
            ("0002_giant", 'ALTER TABLE "big" ADD COLUMN "note" text;\n--> statement-breakpoint\n' + giant),
            ("0003_after", 'INSERT INTO "other" VALUES (1), (2);'),
        ],
    )
    del giant
    result = run_cli(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "applied 4 migration(s)" in result.stdout
    assert query(db_url, 'SELECT count(*), min(id), max(id) FROM "big"') == [(rows, 0, rows - 1)]
    assert query(db_url, 'SELECT count(*) FROM "other"') == [(2,)]
    assert len(tracked(db_url)) == 4


@pytest.mark.slow
def test_statements_just_under_the_limit_pipeline_without_deadlock(db_url, tmp_path):
    """Twelve statements just under the limit in one migration (over a unix socket, 2 MB queued before a
    Sync used to hang): they stay pipelined and a Sync falls among them (every 8 MB)."""
    parts, total = [], 0
    for k in range(12):
        stmt, n = insert(k * 100_000, PIPELINE_STATEMENT_LIMIT - 1000)
        assert len(stmt) <= PIPELINE_STATEMENT_LIMIT
        parts.append(stmt)
        total += n
    folder = make_drizzle_folder(
        tmp_path,
        [
            ("0000_table", 'CREATE TABLE "big" ("id" integer PRIMARY KEY, "pad" text NOT NULL);'),
            ("0001_many", "\n--> statement-breakpoint\n".join(parts)),
        ],
    )
    result = run_cli(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert query(db_url, 'SELECT count(*) FROM "big"') == [(total,)]
    assert len(tracked(db_url)) == 2


def test_single_transaction_with_a_statement_over_the_limit(db_url, tmp_path):
    """`--single-transaction` does not pipeline a run holding a statement over the limit either."""
    stmt, rows = insert(0, PIPELINE_STATEMENT_LIMIT + 200_000)
    folder = make_drizzle_folder(
        tmp_path,
        [
            ("0000_table", 'CREATE TABLE "big" ("id" integer PRIMARY KEY, "pad" text NOT NULL);'),
            ("0001_large", stmt),
        ],
    )
    result = run_cli(migrate_args(db_url, folder, "--single-transaction"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert query(db_url, 'SELECT count(*) FROM "big"') == [(rows,)]


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["with", "parentheses"])
def test_a_select_into_over_8_mib_behind_with_or_parentheses_is_sent_directly(db_url, tmp_path, shape):
    """EXECUTE refuses `SELECT ... INTO` (the streamed path runs its statement through EXECUTE): the parser finds
    it behind a WITH or in parentheses, and the statement is sent as written."""
    rows = 90_000
    values = ",\n".join(ROW.format(i=i, pad=PAD) for i in range(rows))
    if shape == "with":
        stmt = f'WITH "src" ("id", "pad") AS (VALUES\n{values})\nSELECT * INTO "copied" FROM "src";'
    else:
        stmt = f'(SELECT * INTO "copied" FROM (VALUES\n{values}) AS "src" ("id", "pad"));'
    assert len(stmt) > 8 << 20
    folder = make_drizzle_folder(tmp_path, [("0000_copied", stmt)])
    result = run_cli(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert query(db_url, 'SELECT count(*), max("id") FROM "copied"') == [(rows, rows - 1)]
    assert len(tracked(db_url)) == 1
