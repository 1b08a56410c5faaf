"""A crash at every statement boundary: for EVERY k from 1 to the number of statements the folder holds, a
`migrakit db.migrate` process is stopped right after statement k completed on the server (the executor's
failpoint, MIGRAKIT_FAILPOINT: SIGKILL of the process, or its session terminated from a second connection),
then run again without it. The rerun must exit 0 and leave exactly what an uninterrupted run leaves: the
same tracking rows, the same normalized schema, the same table contents, no progress rows, no INVALID index.
The folder mixes plain migrations, a lone CREATE INDEX CONCURRENTLY and a file with its own BEGIN/COMMIT
(followed by a CREATE INDEX CONCURRENTLY and a plain statement that run outside any transaction).

The stopped run is a real process on a real server (SIGKILL needs one); the reference run and the reruns run
in-process. A fresh database (cloned from the session's template) per kill point."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from migrakit.core.postgres.statements import split_statements
from migrakit.db.connect import server
from tests.fixtures.cli import migrate_args, run_cli, run_in_process
from tests.fixtures.folders import make_drizzle_folder
from tests.fixtures.inspect import progress_rows, query
from tests.fixtures.pg import dump_schema

pytestmark = pytest.mark.crash

BP = "\n--> statement-breakpoint\n"
FOLDER = [
    (
        "0000_init",
        BP.join(
            [
                'CREATE TABLE "users" ("id" integer PRIMARY KEY, "email" text NOT NULL);',
                'CREATE TABLE "orders" ("id" integer PRIMARY KEY, "user_id" integer NOT NULL);',
                "INSERT INTO \"users\" VALUES (1, 'a@x'), (2, 'b@x'), (3, 'c@x');",
            ]
        ),
    ),
    (
        "0001_data",
        BP.join(
            [
                'ALTER TABLE "users" ADD COLUMN "name" text;',
                "UPDATE \"users\" SET \"name\" = upper(\"email\");",
                'INSERT INTO "orders" VALUES (1, 1), (2, 2), (3, 1);',
            ]
        ),
    ),
    ("0002_index", 'CREATE INDEX CONCURRENTLY "users_email_idx" ON "users" ("email");'),
    (
        "0003_self_managed",
        BP.join(
            [
                "BEGIN;",
                'CREATE TABLE "audit" ("id" serial PRIMARY KEY, "what" text NOT NULL);',
                "INSERT INTO \"audit\" (\"what\") VALUES ('inside');",
                "COMMIT;",
                'CREATE INDEX CONCURRENTLY "orders_user_idx" ON "orders" ("user_id");',
                "INSERT INTO \"audit\" (\"what\") VALUES ('after commit');",
            ]
        ),
    ),
    (
        "0004_tail",
        BP.join(
            [
                'CREATE TABLE "tail" ("n" integer);',
                'INSERT INTO "tail" SELECT generate_series(1, 5);',
            ]
        ),
    ),
    (
        "0005_totals",
        BP.join(
            [
                'ALTER TABLE "orders" ADD COLUMN "total" integer DEFAULT 0 NOT NULL;',
                'UPDATE "orders" SET "total" = "id" * 10;',
                "INSERT INTO \"audit\" (\"what\") VALUES ('totals');",
            ]
        ),
    ),
]
STATEMENTS = sum(len(split_statements(body)) for _, body in FOLDER)  # 18: every kill point below


# What each table's rows are compared by. audit.id is a serial: a statement rolled back with its session still
# consumed a sequence value (sequences are not transactional), so ids may differ by design; its text may not.
ROWS = {"users": "*", "orders": "*", "audit": '"what"', "tail": "*"}


def state(db_url: str, pg_bin) -> dict:
    """Everything a run leaves behind that must not depend on where an earlier run was stopped."""
    data = {
        t: query(db_url, f'SELECT count(*), md5(coalesce(string_agg(r::text, \',\' ORDER BY r::text), \'\')) FROM (SELECT {cols} FROM "{t}") r')
        for t, cols in ROWS.items()
    }
    return {
        "tracking": query(db_url, "SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id"),
        "schema": dump_schema(db_url, pg_bin),
        "data": data,
        "progress": progress_rows(db_url),
        "invalid_indexes": query(db_url, "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid"),
    }


class Databases:
    """Fresh databases cloned from the session's template; whatever is left is dropped at the end."""

    def __init__(self, admin_url: str, template: str) -> None:
        self.admin_url, self.template, self.names = admin_url, template, {}
        self._lock = threading.Lock()  # CREATE DATABASE ... TEMPLATE fails while another clone reads the template

    def __call__(self) -> str:
        name = f"t_{uuid.uuid4().hex[:8]}"
        with self._lock:
            url = server.create_database(self.admin_url, name, template=self.template)
        self.names[url] = name
        return url

    def drop(self, url: str) -> None:
        server.drop_database(self.admin_url, self.names.pop(url))


@pytest.fixture
def fresh_db(pg_server_url, pg_template):
    dbs = Databases(pg_server_url, pg_template)
    yield dbs
    for url in list(dbs.names):
        dbs.drop(url)


@pytest.mark.slow
@pytest.mark.parametrize("action", ["kill", "disconnect"])
def test_a_crash_after_any_statement_is_recovered_exactly_once(action, fresh_db, tmp_path, pg_bin):
    folder = make_drizzle_folder(tmp_path, FOLDER)
    assert STATEMENTS == 18

    reference = fresh_db()
    clean = run_in_process(migrate_args(reference, folder), cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    expected = state(reference, pg_bin)
    assert len(expected["tracking"]) == len(FOLDER) and expected["progress"] == [] and not expected["invalid_indexes"]

    # The count is exact: a failpoint one past the last statement never fires, the run completes.
    beyond = fresh_db()
    past = run_in_process(migrate_args(beyond, folder), cwd=tmp_path, env={"MIGRAKIT_FAILPOINT": f"{action}:{STATEMENTS + 1}"})
    assert past.returncode == 0, past.stderr
    assert state(beyond, pg_bin) == expected

    def crash_and_rerun(k: int) -> None:
        db = fresh_db()
        crashed = run_cli(migrate_args(db, folder), cwd=tmp_path, env={"MIGRAKIT_FAILPOINT": f"{action}:{k}"})
        if action == "kill":
            assert crashed.returncode == -9, (k, crashed.returncode, crashed.stderr)
        else:
            assert crashed.returncode == 6, (k, crashed.returncode, crashed.stderr)
            assert "lost the connection to the database" in crashed.stderr, (k, crashed.stderr)
        assert "Traceback" not in crashed.stderr, (k, crashed.stderr)
        has_table = query(db, "SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL")[0][0]
        applied = len(query(db, "SELECT 1 FROM drizzle.__drizzle_migrations")) if has_table else 0
        assert applied < len(FOLDER), f"failpoint {action}:{k} stopped nothing"

        # a process, not in-process: these reruns run on a thread pool, and an in-process run's captured
        # stdout/stderr and signal handlers are the whole process's (one rerun lost its message to another's capture)
        rerun = run_cli(migrate_args(db, folder), cwd=tmp_path)
        assert rerun.returncode == 0, (k, rerun.stderr)
        assert state(db, pg_bin) == expected, f"after {action} at statement {k} of {STATEMENTS}"
        fresh_db.drop(db)

    # Kill points are independent (a database each): a few at a time keeps the test short.
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(crash_and_rerun, range(1, STATEMENTS + 1)))
    assert len(done) == STATEMENTS
