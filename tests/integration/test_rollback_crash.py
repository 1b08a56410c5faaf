"""A crash at every statement boundary of a rollback: for every k, a `migrakit db.rollback --yes` process is
stopped right after down statement k completed (MIGRAKIT_FAILPOINT: SIGKILL of the process, or its session
terminated), then run again without it. The rerun exits 0 and leaves the tracking rows and schema (the first migration's) an
uninterrupted rollback leaves (not compared with `db.migrate --to`:
the outside-transaction migration leaves migrakit's progress table behind, by design). One down runs outside a
transaction (DROP INDEX CONCURRENTLY IF EXISTS), so a crash between it and its row's deletion is covered too."""

import uuid

import psycopg
import pytest

from migrakit.db.connect import server
from tests.fixtures.cli import migrate_args, run_cli
from tests.fixtures.folders import make_drizzle_folder
from tests.fixtures.pg import dump_schema

BP = "\n--> statement-breakpoint\n"
UPS = [
    ("0000_base", 'CREATE TABLE "users" ("id" integer PRIMARY KEY, "email" text);'),
    ("0001_orders", BP.join(['CREATE TABLE "orders" ("id" integer, "user_id" integer);',
                             'ALTER TABLE "users" ADD COLUMN "name" text;',
                             'CREATE INDEX "orders_user" ON "orders" ("user_id");'])),
    ("0002_index", 'CREATE INDEX CONCURRENTLY "users_email" ON "users" ("email");'),
    ("0003_tail", BP.join(['CREATE TABLE "tail" ("n" integer);', 'ALTER TABLE "users" ADD COLUMN "age" int;'])),
]  # fmt: skip
DOWNS = {
    "0001_orders": BP.join(['DROP INDEX "orders_user";', 'ALTER TABLE "users" DROP COLUMN "name";',
                            'DROP TABLE "orders";']),
    "0002_index": 'DROP INDEX CONCURRENTLY IF EXISTS "users_email";',
    "0003_tail": BP.join(['ALTER TABLE "users" DROP COLUMN "age";', 'DROP TABLE "tail";']),
}  # fmt: skip
STATEMENTS = 6
pytestmark = pytest.mark.crash


def rows(url):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id").fetchall()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("rollback_crash")
    path = make_drizzle_folder(root, UPS)
    for tag, text in DOWNS.items():
        (path / f"{tag}.down.sql").write_text(text)
    return path


@pytest.fixture(scope="module")
def expected(folder, pg_server_url, pg_bin):
    name = f"mk_rbx_{uuid.uuid4().hex[:8]}"
    url = server.create_database(pg_server_url, name)
    try:
        assert run_cli(migrate_args(url, folder), cwd=folder.parent).returncode == 0
        args = ["db.rollback", "--to", "0000_base", "--yes", "--migrations-dir", str(folder), "--database-url", url]
        assert run_cli(args, cwd=folder.parent).returncode == 0  # uninterrupted
        assert len(rows(url)) == 1
        yield rows(url), dump_schema(url, pg_bin)
    finally:
        server.drop_database(pg_server_url, name)


@pytest.mark.slow
@pytest.mark.parametrize("action", ["kill", "disconnect"])
@pytest.mark.parametrize("k", range(1, STATEMENTS + 1))
def test_crash_after_down_statement_k_recovers_on_the_next_run(k, action, folder, expected, pg_server_url, pg_bin):
    name = f"mk_rbx_{uuid.uuid4().hex[:8]}"
    url = server.create_database(pg_server_url, name)
    try:
        assert run_cli(migrate_args(url, folder), cwd=folder.parent).returncode == 0
        args = ["db.rollback", "--to", "0000_base", "--yes", "--migrations-dir", str(folder), "--database-url", url]
        crashed = run_cli(args, cwd=folder.parent, env={"MIGRAKIT_FAILPOINT": f"{action}:{k}"})
        assert crashed.returncode != 0, crashed.stdout + crashed.stderr  # it did stop at statement k
        rerun = run_cli(args, cwd=folder.parent)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert (rows(url), dump_schema(url, pg_bin)) == expected
    finally:
        server.drop_database(pg_server_url, name)
