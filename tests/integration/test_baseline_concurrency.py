"""db.baseline while another deploy migrates (issue 12, item 7): the proof is built under the migration
lock, so baseline waits for the deploy (bounded) and proves the schema the deploy left; a schema changed by a
session that takes no lock is read in one snapshot, and a failed read is an error with its fix, never a
traceback."""

import threading

import psycopg
import pytest

from migrakit.core.drizzle.journal import parse_journal
from tests.fixtures.cli import SLEEP, backend_running, migrate_args, run_in_process, sleeping, start_cli, wait_for
from tests.fixtures.folders import make_drizzle_folder

pytestmark = [pytest.mark.slow, pytest.mark.concurrency]


def _project(tmp_path, shadow_url):
    (tmp_path / "pyproject.toml").write_text(f'[tool.migrakit]\nshadow_url = "{shadow_url}"\n')
    return make_drizzle_folder(
        tmp_path,
        [
            ("0000_users", "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);"),
            ("0001_slow_orders", f"{SLEEP}\n--> statement-breakpoint\nCREATE TABLE orders (id serial PRIMARY KEY, user_id int REFERENCES users(id));"),
        ],
    )


def _tracked(db_url):
    with psycopg.connect(db_url) as conn:
        return [r[0] for r in conn.execute("SELECT hash FROM drizzle.__drizzle_migrations ORDER BY id")]


def test_baseline_waits_for_a_running_deploy_and_proves_the_schema_it_left(tmp_path, db_url, pg_server_url):
    folder = _project(tmp_path, pg_server_url)
    env = {"DATABASE_URL": db_url}
    # 0000 is applied; a table was added by hand: what the baseline must adopt
    first = run_in_process(migrate_args(None, folder), cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    with psycopg.connect(db_url) as conn:  # undo 0001 (to let a deploy run it), keep a table made by hand
        conn.execute("DELETE FROM drizzle.__drizzle_migrations WHERE id = (SELECT max(id) FROM drizzle.__drizzle_migrations)")
        conn.execute("DROP TABLE orders")
        conn.execute("CREATE TABLE audit_by_hand (id bigserial PRIMARY KEY, note text)")

    deploy = start_cli(migrate_args(None, folder), cwd=tmp_path, env={**env, **sleeping(3)})
    try:
        wait_for(lambda: backend_running(db_url, "pg_sleep"), "the deploy to be inside 0001")
        out = run_in_process(["db.baseline", "--yes"], cwd=tmp_path, env=env)
    finally:
        deploy_out, deploy_err = deploy.communicate(timeout=120)
    assert deploy.returncode == 0, deploy_err
    assert "Traceback" not in out.stderr + out.stdout
    assert out.returncode == 0, out.stdout + out.stderr  # it waited for the lock, then saw 0001 applied
    statements = [line for line in out.stdout.splitlines() if line.startswith("  ")]  # the baseline's statements
    assert any("audit_by_hand" in s for s in statements) and not any("orders" in s for s in statements), out.stdout
    journal = parse_journal((folder / "meta" / "_journal.json").read_text())
    assert [e.tag for e in journal.entries][-1].endswith("_baseline")
    assert len(_tracked(db_url)) == 3
    check = run_in_process(["db.check"], cwd=tmp_path, env=env)
    assert check.returncode == 0, check.stdout + check.stderr


def test_baseline_gives_up_on_a_lock_held_too_long_with_a_clear_error(tmp_path, db_url, pg_server_url):
    folder = _project(tmp_path, pg_server_url)
    env = {"DATABASE_URL": db_url}
    assert run_in_process(migrate_args(None, folder), cwd=tmp_path, env=env).returncode == 0
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE audit_by_hand (id int)")
        conn.execute("DELETE FROM drizzle.__drizzle_migrations WHERE id = (SELECT max(id) FROM drizzle.__drizzle_migrations)")
        conn.execute("DROP TABLE orders")
    deploy = start_cli(migrate_args(None, folder), cwd=tmp_path, env={**env, **sleeping(20)})
    try:
        wait_for(lambda: backend_running(db_url, "pg_sleep"), "the deploy to be inside 0001")
        out = run_in_process(["db.baseline", "--yes"], cwd=tmp_path, env={**env, "MIGRAKIT_LOCK_WAIT_TIMEOUT": "1"})
    finally:
        deploy.kill()
        deploy.communicate(timeout=60)
    assert out.returncode == 4, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and "lock" in out.stderr
    assert not any(e.tag.endswith("_baseline") for e in parse_journal((folder / "meta" / "_journal.json").read_text()).entries)


def test_baseline_while_a_session_without_the_lock_churns_ddl_never_prints_a_traceback(tmp_path, db_url, pg_server_url):
    folder = _project(tmp_path, pg_server_url)
    env = {"DATABASE_URL": db_url}
    assert run_in_process(migrate_args(None, folder), cwd=tmp_path, env=env).returncode == 0
    stop = threading.Event()
    rounds = []

    def churn():  # e.g. an app creating and dropping tables on its own connection, no migration lock
        with psycopg.connect(db_url, autocommit=True) as conn:
            i = 0
            while not stop.is_set():
                i += 1
                conn.execute(f"CREATE TABLE churn_{i % 4} (id serial PRIMARY KEY, v int, w text)")
                conn.execute(f"CREATE INDEX ON churn_{i % 4} (v)")
                conn.execute(f"CREATE VIEW churn_view_{i % 4} AS SELECT * FROM churn_{i % 4}")
                conn.execute(f"DROP TABLE churn_{i % 4} CASCADE")
                rounds.append(i)

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    try:
        outs = [run_in_process(["db.baseline"], cwd=tmp_path, env=env) for _ in range(3)]
        checks = [run_in_process(["db.check"], cwd=tmp_path, env=env) for _ in range(2)]
    finally:
        stop.set()
        thread.join(timeout=30)
    assert len(rounds) > 10  # the schema really changed while it was read
    for out in [*outs, *checks]:
        text = out.stdout + out.stderr
        assert "Traceback" not in text and "KeyError" not in text.split("cause:")[0], text
        # planned (5), refused because the proof saw another schema (3), or a read that failed 3 times (1)
        assert out.returncode in (0, 1, 3, 5), text
        if out.returncode == 1:
            assert "could not read the schema" in text and "fix:" in text, text


def test_a_schema_read_the_server_keeps_refusing_is_an_error_with_state_and_fix(db_url):
    from migrakit.db.inspect import schema_diff as schema
    from migrakit.errors import InspectionFailed

    sep = "&" if "?" in db_url else "?"
    refusing = f"{db_url}{sep}options=-c%20statement_timeout%3D1"  # every catalog query is cancelled after 1 ms
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    with pytest.raises(InspectionFailed) as info:
        schema.inspect(refusing)
    err = info.value
    assert err.cause.startswith("QueryCanceled") and err.exit_code == 1
    assert err.state == "nothing was written or tracked" and "run this again" in err.fix
    assert "could not read the schema" in err.message and "3 attempts" in err.message
    assert ("tables", '"public"."t"') in schema.snapshot(schema.inspect(db_url))  # the same read, allowed time, works
