"""`db.migrate --targets` / `db.status --targets`: the single-database run on a few dozen real databases at once.
A broken tenant fails at its failing migration while the others finish; --fail-fast and --canary stop starting
targets; a rerun after the fix touches only that tenant; schema-per-tenant on one database; the JSON shape."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from migrakit.db.connect import server
from tests.fixtures.cli import run_in_process
from tests.fixtures.folders import add_migration, make_drizzle_folder

TENANTS = 24
MIGRATIONS = [
    ("0000_accounts", "CREATE TABLE accounts (id int PRIMARY KEY);"),
    ("0001_orders", "CREATE TABLE orders (id int PRIMARY KEY, account int REFERENCES accounts);"),
    ("0002_orders_total", "ALTER TABLE orders ADD COLUMN total numeric;\n--> statement-breakpoint\nCREATE INDEX orders_account ON orders (account);"),
]
PASSWORD = "fleet-Secret-77"  # in every target URL: never printed (the test server ignores it or trusts)


@pytest.fixture
def tenants(pg_server_url, pg_template):
    """TENANTS fresh databases: [(name, url)], dropped after the test."""
    made = []
    try:
        for i in range(TENANTS):
            name = f"fleet_{uuid.uuid4().hex[:6]}_{i:02d}"
            url = server.create_database(pg_server_url, name, template=pg_template)
            made.append((f"t{i:03d}", url))
        yield made
    finally:
        for _, url in made:
            server.drop_database(pg_server_url, psycopg.conninfo.conninfo_to_dict(url)["dbname"])


def with_password(url: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    user, host, port = params.get("user") or "postgres", params.get("host") or "", params.get("port")
    if host.startswith("/") or not host:  # a unix socket (the embedded server): host and port as parameters
        query = "&".join(f"{k}={quote(v, safe='/')}" for k, v in (("host", host), ("port", port)) if v)
        return f"postgresql://{user}:{PASSWORD}@/{params['dbname']}" + (f"?{query}" if query else "")
    return f"postgresql://{user}:{PASSWORD}@{host}:{port or 5432}/{params['dbname']}"


def write_targets(path: Path, targets, *, schema: bool = False) -> Path:
    lines = []
    for name, url in targets:
        lines += ["[[targets]]", f'name = "{name}"', f'url = "{url}"'] + ([f'schema = "{name}"'] if schema else []) + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def fleet(tmp_path: Path, *args: str):
    return run_in_process(["db.migrate", "--migrations-dir", str(tmp_path / "migrations"), *args], cwd=tmp_path)


def tracked(url: str, schema: str = "drizzle") -> int:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f'"{schema}".__drizzle_migrations',)).fetchone() == (None,):
            return 0
        return conn.execute(f'SELECT count(*) FROM "{schema}".__drizzle_migrations').fetchone()[0]


def break_tenant(url: str) -> None:
    """A conflicting table: 0001_orders fails there with 42P07."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (legacy text)")


def no_password(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text


def test_a_broken_tenant_fails_at_its_migration_while_the_others_finish_then_a_rerun_fixes_only_it(tmp_path, tenants):
    make_drizzle_folder(tmp_path, MIGRATIONS)
    targets = [(name, with_password(url)) for name, url in tenants]
    write_targets(tmp_path / "fleet.toml", targets)
    broken_name, broken_url = tenants[7]
    break_tenant(broken_url)

    result = fleet(tmp_path, "--targets", "fleet.toml", "--concurrency", "6")
    assert result.returncode == 1, result.stdout + result.stderr  # MigrationFailed's exit code
    no_password(result.stdout, result.stderr)
    assert f"{TENANTS} target(s) from fleet.toml" in result.stdout and f"{TENANTS - 1} applied, 1 FAILED" in result.stdout
    # the failed target and its fix come last
    tail = result.stdout.split("1 target(s) failed; each error below, with its fix:", 1)[1]
    assert f"target {broken_name} (postgresql://" in tail and "***@" in tail
    assert "migration 0001_orders failed at statement 1 of 1" in tail and "42P07" in tail and "fix:" in tail
    assert "applied and tracked before it in this run: 0000_accounts" in tail
    for name, url in tenants:
        assert tracked(url) == (1 if name == broken_name else 3), name

    # a second run before the fix: the same failure, the others untouched (up to date)
    again = fleet(tmp_path, "--targets", "fleet.toml", "--json")
    assert again.returncode == 1
    doc = json.loads(again.stdout)
    assert doc["counts"] == {"applied": 0, "up-to-date": TENANTS - 1, "failed": 1, "interrupted": 0, "skipped": 0}

    with psycopg.connect(broken_url, autocommit=True) as conn:  # the fix: the legacy table goes
        conn.execute("DROP TABLE orders")
    before = {name: _ids(url) for name, url in tenants}
    fixed = fleet(tmp_path, "--targets", "fleet.toml", "--json")
    assert fixed.returncode == 0, fixed.stdout
    doc = json.loads(fixed.stdout)
    by_name = {t["name"]: t for t in doc["targets"]}
    assert by_name[broken_name]["status"] == "applied"
    assert by_name[broken_name]["applied"] == ["0001_orders", "0002_orders_total"]
    assert [t["name"] for t in doc["targets"] if t["status"] != "up-to-date"] == [broken_name]
    for name, url in tenants:  # the others' tracking rows are exactly those of before
        assert _ids(url) == (before[name] if name != broken_name else before[name] + [2, 3]), name


def _ids(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM drizzle.__drizzle_migrations ORDER BY id")]


def test_fail_fast_starts_no_target_after_a_failure(tmp_path, tenants):
    make_drizzle_folder(tmp_path, MIGRATIONS)
    targets = tenants[:8]
    write_targets(tmp_path / "fleet.toml", targets)
    break_tenant(targets[2][1])
    result = fleet(tmp_path, "--targets", "fleet.toml", "--concurrency", "1", "--fail-fast", "--json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert [t["status"] for t in doc["targets"]] == ["applied", "applied", "failed"] + ["skipped"] * 5
    assert doc["stopped_because"].startswith(f"--fail-fast: {targets[2][0]} failed")
    assert doc["targets"][2]["error"]["migration"] == "0001_orders" and doc["targets"][2]["applied"] == ["0000_accounts"]
    assert [tracked(url) for _, url in targets] == [3, 3, 1, 0, 0, 0, 0, 0]


def test_a_failing_canary_stops_everything_and_a_passing_one_lets_the_rest_go(tmp_path, tenants):
    make_drizzle_folder(tmp_path, MIGRATIONS)
    write_targets(tmp_path / "fleet.toml", tenants)
    break_tenant(tenants[1][1])
    result = fleet(tmp_path, "--targets", "fleet.toml", "--canary", "3")
    assert result.returncode == 1
    assert f"stopped: --canary 3: {tenants[1][0]} failed among the first 3 target(s)" in result.stdout
    assert [tracked(url) for _, url in tenants[:3]] == [3, 1, 3]  # the canaries ran to the end
    assert all(tracked(url) == 0 for _, url in tenants[3:])  # nobody else started
    assert result.stdout.count("skipped (not started)") == TENANTS - 3

    with psycopg.connect(tenants[1][1], autocommit=True) as conn:
        conn.execute("DROP TABLE orders")
    break_tenant(tenants[10][1])  # outside the canary: only that one fails, the rest go on
    result = fleet(tmp_path, "--targets", "fleet.toml", "--canary", "3", "--json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["stopped_because"] is None and doc["counts"]["failed"] == 1 and doc["counts"]["skipped"] == 0
    assert [t["name"] for t in doc["targets"] if t["status"] == "failed"] == [tenants[10][0]]
    assert all(tracked(url) == 3 for name, url in tenants if name != tenants[10][0])


def test_schema_per_tenant_on_one_database(tmp_path, db_url):
    make_drizzle_folder(tmp_path, MIGRATIONS)
    names = [f"tenant_{i}" for i in range(12)]
    write_targets(tmp_path / "fleet.toml", [(n, db_url) for n in names], schema=True)
    result = fleet(tmp_path, "--targets", "fleet.toml", "--concurrency", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    with psycopg.connect(db_url) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname LIKE 'tenant_%' ORDER BY 1, 2"
        ).fetchall()
        public = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname IN ('public', 'drizzle')").fetchall()
        search_path = conn.execute("SHOW search_path").fetchone()[0]
    assert tables == [(n, t) for n in sorted(names) for t in ("__drizzle_migrations", "accounts", "orders")]
    assert public == [] and search_path == '"$user", public'  # nothing outside the tenants' schemas; no lasting setting
    assert all(tracked(db_url, n) == 3 for n in names)

    status = run_in_process(["db.status", "--migrations-dir", str(tmp_path / "migrations"), "--targets", "fleet.toml", "--json"], cwd=tmp_path)
    assert status.returncode == 0, status.stdout
    doc = json.loads(status.stdout)
    assert {t["status"] for t in doc["targets"]} == {"up-to-date"} and doc["target_count"] == 12


def test_the_json_document_and_status_pending(tmp_path, tenants):
    make_drizzle_folder(tmp_path, MIGRATIONS)
    targets = [(name, with_password(url)) for name, url in tenants[:4]]
    write_targets(tmp_path / "fleet.toml", targets)
    break_tenant(tenants[3][1])
    status = run_in_process(["db.status", "--migrations-dir", str(tmp_path / "migrations"), "--targets", "fleet.toml", "--json"], cwd=tmp_path)
    assert status.returncode == 0
    assert [t["pending"] for t in json.loads(status.stdout)["targets"]] == [[m for m, _ in MIGRATIONS]] * 4

    result = fleet(tmp_path, "--targets", "fleet.toml", "--json")
    no_password(result.stdout, result.stderr)
    doc = json.loads(result.stdout)
    assert (doc["task"], doc["ok"], doc["exit_code"], doc["changed"]) == ("db.migrate", False, 1, True)
    assert doc["error"] is None  # the run ended: the failure is the target's (docs/json.md)
    first, broken = doc["targets"][0], doc["targets"][3]
    assert set(first) == {"name", "database_url", "schema", "status", "applied", "applied_count", "seconds", "error"}
    assert (first["name"], first["status"], first["applied"], first["error"]) == ("t000", "applied", [m for m, _ in MIGRATIONS], None)
    assert first["database_url"].startswith("postgresql://") and ":***@" in first["database_url"]
    assert broken["status"] == "failed" and broken["applied"] == ["0000_accounts"]
    assert broken["error"]["kind"] == "migration-failed" and broken["error"]["migration"] == "0001_orders"
    assert broken["error"]["fix"] and broken["error"]["state"].startswith("nothing from 0001_orders was applied")


def test_targets_run_at_once_not_one_after_another(tmp_path, tenants):
    """6 targets each sleeping 1 s inside a migration, 6 at a time: well under the 6 s of one after another."""
    make_drizzle_folder(tmp_path, [("0000_slow", "SELECT pg_sleep(1);")])
    write_targets(tmp_path / "fleet.toml", tenants[:6])
    start = time.monotonic()
    result = fleet(tmp_path, "--targets", "fleet.toml", "--concurrency", "6")
    assert result.returncode == 0, result.stdout
    assert time.monotonic() - start < 5.0


def test_targets_query_and_refused_options(tmp_path, tenants, db_url):
    make_drizzle_folder(tmp_path, MIGRATIONS)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tenants (slug text, dsn text, active bool)")
        for i, (name, url) in enumerate(tenants[:5]):
            conn.execute("INSERT INTO tenants VALUES (%s, %s, %s)", (name, url, i != 4))
    query = "SELECT slug AS name, dsn AS url FROM tenants WHERE active ORDER BY slug"
    result = fleet(tmp_path, "--database-url", db_url, "--targets-query", query, "--json")
    assert result.returncode == 0, result.stdout
    doc = json.loads(result.stdout)
    assert doc["targets_from"] == "--targets-query" and [t["name"] for t in doc["targets"]] == [n for n, _ in tenants[:4]]
    assert tracked(tenants[4][1]) == 0

    bad = fleet(tmp_path, "--database-url", db_url, "--targets-query", "SELECT slug, dsn FROM tenants")
    assert bad.returncode == 2 and "missing name, url" in bad.stderr and "Traceback" not in bad.stderr
    for args, words in (
        (["--targets", "fleet.toml", "--dry-run"], "--dry-run does not combine with --targets"),
        (["--targets", "nope.toml"], "the targets file nope.toml does not exist"),
        (["--fail-fast"], "--fail-fast only applies to a fleet run"),
        (["--targets", "fleet.toml", "--concurrency", "0"], "--concurrency 0 is out of range"),
    ):
        write_targets(tmp_path / "fleet.toml", tenants[:2])
        out = fleet(tmp_path, *args)
        assert out.returncode == 2 and words in out.stderr, (args, out.stderr)


def test_the_live_view_draws_from_the_pool_threads_and_ends(tmp_path, tenants):
    """The rich view is drawn by its own refresh thread while the pool's threads report: it must end (no
    deadlock between its lock and rich's refresh thread) and show the final counts and the slowest target."""
    import io
    import threading

    from migrakit.core.fleet_targets import Target
    from migrakit.render.fleet import FleetView
    from migrakit.sources.config import load_settings
    from migrakit.workflows import fleet as workflow

    make_drizzle_folder(tmp_path, MIGRATIONS)
    stream = io.StringIO()
    settings = load_settings(tmp_path, env={}, migrations_dir=str(tmp_path / "migrations"))
    targets = [Target(name, url) for name, url in tenants[:6]]
    out: dict = {}
    run = lambda: out.setdefault("report", workflow.migrate(settings, targets, source="t", concurrency=3, on_event=FleetView("rich", stream)))  # noqa: E731
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the fleet run with the live view did not end"
    assert [r.status for r in out["report"].results] == ["applied"] * 6
    assert "6/6 done" in stream.getvalue() and "slowest" in stream.getvalue()


def test_check_targets_finds_the_tenant_with_drift(tmp_path, tenants, pg_server_url):
    make_drizzle_folder(tmp_path, MIGRATIONS)
    targets = tenants[:4]
    write_targets(tmp_path / "fleet.toml", targets)
    assert fleet(tmp_path, "--targets", "fleet.toml").returncode == 0
    with psycopg.connect(targets[2][1], autocommit=True) as conn:
        conn.execute("CREATE TABLE hotfix (id int)")  # a manual change on one tenant
    args = ["db.check", "--migrations-dir", str(tmp_path / "migrations"), "--shadow-url", pg_server_url, "--targets", "fleet.toml"]
    result = run_in_process([*args, "--json"], cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert [t["status"] for t in doc["targets"]] == ["no-drift", "no-drift", "drift", "no-drift"]
    assert [d["object"] for d in doc["targets"][2]["differences"]] == ['table "public"."hotfix"']
    text = run_in_process(args, cwd=tmp_path)
    assert text.returncode == 3 and f"target {targets[2][0]} (" in text.stdout and 'table "public"."hotfix"' in text.stdout


def test_lint_targets_judges_each_tenant_on_its_own_pending_migrations(tmp_path, tenants, pg_server_url):
    # t holds a row: on a table the target holds empty, the type change would be info, not an error
    make_drizzle_folder(tmp_path, [("0000_t", "CREATE TABLE t (a int);\n--> statement-breakpoint\nINSERT INTO t VALUES (1);")])
    targets = tenants[:3]
    write_targets(tmp_path / "fleet.toml", targets)
    assert fleet(tmp_path, "--targets", "fleet.toml").returncode == 0
    add_migration(tmp_path / "migrations", "0001_widen", "ALTER TABLE t ALTER COLUMN a TYPE bigint;")
    write_targets(tmp_path / "ahead.toml", targets[2:])
    assert fleet(tmp_path, "--targets", "ahead.toml").returncode == 0  # the third tenant already has 0001
    args = ["db.lint", "--migrations-dir", str(tmp_path / "migrations"), "--shadow-url", pg_server_url, "--targets", "fleet.toml"]

    result = run_in_process([*args, "--json"], cwd=tmp_path)

    assert result.returncode == 7, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert [t["status"] for t in doc["targets"]] == ["findings", "findings", "clean"]
    assert [t["linted"] for t in doc["targets"]] == [["0001_widen"], ["0001_widen"], []]
    (f,) = doc["targets"][0]["findings"]
    assert (f["migration"], f["statement"], f["rule"], f["severity"], f["failing"]) == ("0001_widen", 1, "column-type-change", "error", True)
    assert doc["counts"]["findings"] == 2 and doc["counts"]["clean"] == 1
    text = run_in_process(args, cwd=tmp_path)
    assert text.returncode == 7 and "Traceback" not in text.stdout + text.stderr
    assert f"target {targets[0][0]} (" in text.stdout and "column-type-change (error) in 0001_widen" in text.stdout
    # nothing was applied by linting
    with psycopg.connect(targets[0][1]) as conn:
        assert conn.execute("SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'a'").fetchone() == ("integer",)
    github = run_in_process([*args, "--github"], cwd=tmp_path)
    assert github.returncode == 2 and "--github does not combine with --targets" in github.stderr


SLEEPY = [
    ("0000_first", 'CREATE TABLE "first" ("id" integer);'),
    ("0001_sleep", 'CREATE TABLE "slept" ("id" integer);\n--> statement-breakpoint\nSELECT pg_sleep(30);'),
    ("0002_after", 'CREATE TABLE "after" ("id" integer);'),
]


@pytest.mark.parametrize(("signame", "code", "as_json", "pipeline"), [("SIGTERM", 143, False, True), ("SIGINT", 130, True, False)])
def test_a_signal_cancels_each_running_target_and_rolls_back_its_migration(tmp_path, tenants, signame, code, as_json, pipeline):
    """Three targets run 0001_sleep's pg_sleep(30) at once, a fourth waits for a slot: a real signal to a real
    process cancels each statement (pipelined and not) and rolls back each migration; the fourth never starts."""
    import signal

    from tests.fixtures.cli import backend_running, migrator_sessions, start_cli, wait_for

    make_drizzle_folder(tmp_path, SLEEPY)
    targets = tenants[:4]
    write_targets(tmp_path / "fleet.toml", targets)
    args = ["db.migrate", "--migrations-dir", str(tmp_path / "migrations"), "--targets", "fleet.toml", "--concurrency", "3"]
    proc = start_cli(args + (["--json"] if as_json else []), cwd=tmp_path, env={"MIGRAKIT_PIPELINE": str(pipeline).lower()})
    try:
        for _, url in targets[:3]:
            wait_for(lambda url=url: backend_running(url, "pg_sleep(30)"), "each running target's pg_sleep", timeout=60)
        proc.send_signal(getattr(signal, signame))
        out, err = proc.communicate(timeout=30)  # a hang guard: the cancels take milliseconds
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, out + err
    assert "Traceback" not in out + err
    for _, url in targets[:3]:
        assert tracked(url) == 1  # 0000_first kept, 0001_sleep rolled back
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('slept') IS NULL, to_regclass('first') IS NOT NULL").fetchone() == (True, True)
        assert not backend_running(url, "pg_sleep(30)")
        assert migrator_sessions(url) == 0
    assert tracked(targets[3][1]) == 0
    if as_json:
        doc = json.loads(out)
        assert doc["exit_code"] == code and doc["counts"]["interrupted"] == 3 and doc["counts"]["skipped"] == 1
        entries = doc["targets"]
        assert [e["status"] for e in entries] == ["interrupted"] * 3 + ["skipped"]
        for e in entries[:3]:
            assert e["applied"] == ["0000_first"] and e["error"]["kind"] == "interrupted"
            assert e["error"]["migration"] == "0001_sleep" and "not applied (rolled back or not started): 0001_sleep, 0002_after" in e["error"]["state"]
        assert doc["stopped_because"].startswith(f"interrupted by {signame}")
    else:
        assert f"stopped: interrupted by {signame}: no other target was started" in out
        assert out.count(f"interrupted by {signame} while 0001_sleep ran at statement 2 of 2") == 3, out
        assert out.count("applied and kept in this run: 0000_first") == 3
        assert out.count("skipped (not started)") == 1 and out.count("INTERRUPTED") >= 3


def test_a_signal_stops_a_target_waiting_for_the_migration_lock(tmp_path, tenants):
    """One target waits for its migration lock (held by another session) while another runs pg_sleep(30): SIGTERM
    stops both; the waiting one is `interrupted` with nothing applied, and no migrakit session is left."""
    import signal

    from migrakit.db.run.lock import lock_key
    from tests.fixtures.cli import backend_running, migrator_sessions, start_cli, wait_for

    make_drizzle_folder(tmp_path, SLEEPY)
    targets = tenants[:2]
    write_targets(tmp_path / "fleet.toml", targets)
    with psycopg.connect(targets[0][1], autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (lock_key("drizzle", "__drizzle_migrations"),))
        args = ["db.migrate", "--migrations-dir", str(tmp_path / "migrations"), "--targets", "fleet.toml", "--json"]
        proc = start_cli(args, cwd=tmp_path, env={"MIGRAKIT_LOCK_WAIT_TIMEOUT": "60"})
        try:
            wait_for(lambda: backend_running(targets[1][1], "pg_sleep(30)"), "the free target's pg_sleep", timeout=60)
            time.sleep(1)  # the locked target is waiting for its lock by now
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)  # a hang guard
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 143, out + err
    waiting, sleeping = json.loads(out)["targets"]
    assert waiting["status"] == "interrupted" and waiting["applied"] == [] and waiting["error"]["kind"] == "interrupted"
    assert sleeping["status"] == "interrupted" and sleeping["applied"] == ["0000_first"]
    assert [tracked(url) for _, url in targets] == [0, 1]
    assert all(migrator_sessions(url) == 0 for _, url in targets)


def test_a_second_signal_exits_the_fleet_at_once(tmp_path, tenants):
    """The first SIGTERM cannot finish (one target's backend is stopped with SIGSTOP, so its cancel is not acted
    on); the second exits without waiting (exit 143). Once that backend runs again, the server ends its session
    and rolls its transaction back; the other target's migration was rolled back by the first signal."""
    import os
    import signal

    from tests.fixtures.cli import backend_running, freeze_backend, start_cli, wait_for

    make_drizzle_folder(tmp_path, SLEEPY)
    targets = tenants[:2]
    write_targets(tmp_path / "fleet.toml", targets)
    proc = start_cli(["db.migrate", "--migrations-dir", str(tmp_path / "migrations"), "--targets", "fleet.toml"], cwd=tmp_path)
    pid = None
    try:
        for _, url in targets:
            wait_for(lambda url=url: backend_running(url, "pg_sleep(30)"), "each target's pg_sleep", timeout=60)
        pid = freeze_backend(targets[0][1], "pg_sleep(30)")
        proc.send_signal(signal.SIGTERM)
        time.sleep(1)  # let the first be seen: Python runs one handler for two signals that arrive before it looks
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)  # a hang guard
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, out + err
    assert "interrupted again (SIGTERM): exiting now" in err
    for _, url in targets:
        wait_for(lambda url=url: not backend_running(url, "pg_sleep(30)"), "the server to end the session", timeout=40)
        assert tracked(url) == 1
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('slept') IS NULL").fetchone() == (True,)


def test_schema_targets_run_outside_transaction_migrations_in_their_schema(tmp_path, db_url):
    """CREATE INDEX CONCURRENTLY runs without a wrapping transaction: its search_path is set for the session and
    reset afterwards, so each tenant's index lands in its own schema and nothing lingers on the connection."""
    make_drizzle_folder(tmp_path, [*MIGRATIONS, ("0003_concurrently", "CREATE INDEX CONCURRENTLY accounts_id ON accounts (id);")])
    names = ["acme", "globex", "initech"]
    write_targets(tmp_path / "fleet.toml", [(n, db_url) for n in names], schema=True)
    result = fleet(tmp_path, "--targets", "fleet.toml", "--concurrency", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    with psycopg.connect(db_url) as conn:
        indexes = conn.execute("SELECT schemaname, indexname FROM pg_indexes WHERE indexname = 'accounts_id' ORDER BY 1").fetchall()
    assert indexes == [(n, "accounts_id") for n in names]
    assert all(tracked(db_url, n) == 4 for n in names)


def test_an_unreachable_targets_fix_names_the_targets_file_not_database_url(tmp_path, tenants):
    make_drizzle_folder(tmp_path, MIGRATIONS)
    targets = write_targets(tmp_path / "fleet.toml", [tenants[0], ("gone", "postgresql://u:pw@127.0.0.1:1/nothing")])
    result = fleet(tmp_path, "--targets", str(targets))
    assert result.returncode == 6, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "the url of target gone in " in out and "fleet.toml" in out, out
    assert "DATABASE_URL" not in out and "embedded database" not in out, out
    assert tracked(tenants[0][1]) == len(MIGRATIONS)


def test_the_live_view_shows_the_migration_each_target_is_running(tmp_path, tenants):
    """Each running target's line names the migration the server is running, as soon as it starts: pipelined
    results used to arrive only at the batch's end, so the view said "connecting" for the whole run."""
    import io

    from migrakit.core.events import TargetRunning
    from migrakit.core.fleet_targets import Target
    from migrakit.render.fleet import FleetView
    from migrakit.sources.config import load_settings
    from migrakit.workflows import fleet as workflow
    from tests.fixtures.cli import backend_running, wait_for

    make_drizzle_folder(tmp_path, [("0000_a", "CREATE TABLE a (id int);"), ("0001_sleep", "SELECT pg_sleep(3);")])
    settings = load_settings(tmp_path, env={}, migrations_dir=str(tmp_path / "migrations"))
    name, url = tenants[0]
    view = FleetView("rich", io.StringIO())
    shown: list[str] = []

    def on_event(event):
        view(event)
        if isinstance(event, TargetRunning) and event.migration.tag == "0001_sleep":
            wait_for(lambda: backend_running(url, "pg_sleep(3)"), "the migration to be running when shown", timeout=2.5)
            shown.append(view._running[name][1])

    report = workflow.migrate(settings, [Target(name, url)], source="t", concurrency=1, on_event=on_event)
    assert [r.status for r in report.results] == ["applied"]
    assert shown == ["0001_sleep (1 statement(s))"]


DOWNS = {
    "0001_orders": "DROP TABLE orders;",
    "0002_orders_total": "DROP INDEX orders_account;\n--> statement-breakpoint\nALTER TABLE orders DROP COLUMN total;",
}


def test_rollback_targets_a_failing_target_stops_at_its_down_while_the_others_finish_then_a_rerun_fixes_only_it(
    tmp_path, tenants
):
    folder = make_drizzle_folder(tmp_path, MIGRATIONS)
    for tag, text in DOWNS.items():
        (folder / f"{tag}.down.sql").write_text(text)
    targets = [(name, with_password(url)) for name, url in tenants[:6]]
    write_targets(tmp_path / "fleet.toml", targets)
    assert fleet(tmp_path, "--targets", "fleet.toml").returncode == 0
    broken_name, broken_url = tenants[2]
    with psycopg.connect(broken_url, autocommit=True) as conn:  # its down's first statement fails there
        conn.execute("DROP INDEX orders_account")

    def rollback(*args: str):
        argv = ["db.rollback", "-m", str(folder), "--targets", "fleet.toml", *args]
        return run_in_process(argv, cwd=tmp_path)

    for refused in (["--steps", "1", "--yes"], ["--to", "0000_accounts"], ["--to", "0000", "--yes", "--dry-run"]):
        result = rollback(*refused)
        assert result.returncode == 2 and "needs --to TAG and --yes" in result.stderr, refused
    assert all(tracked(url) == 3 for _, url in tenants[:6])

    result = rollback("--to", "0000_accounts", "--yes", "--concurrency", "3")
    assert result.returncode == 1, result.stdout + result.stderr  # the failed down's exit code
    no_password(result.stdout, result.stderr)
    assert "5 rolled back, 1 FAILED" in result.stdout
    assert f"target {broken_name} (postgresql://" in result.stdout and "0002_orders_total" in result.stdout
    for name, url in tenants[:6]:
        assert tracked(url) == (3 if name == broken_name else 1), name

    with psycopg.connect(broken_url, autocommit=True) as conn:  # the fix
        conn.execute("CREATE INDEX orders_account ON orders (account)")
    again = rollback("--to", "0000_accounts", "--yes", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    doc = json.loads(again.stdout)
    assert doc["counts"] == {"applied": 0, "up-to-date": 5, "failed": 0, "interrupted": 0, "skipped": 0, "rolled-back": 1}
    by_name = {t["name"]: t for t in doc["targets"]}
    assert by_name[broken_name]["rolled_back"] == ["0002_orders_total", "0001_orders"]
    assert [t["name"] for t in doc["targets"] if t["status"] != "up-to-date"] == [broken_name]
    assert all(tracked(url) == 1 for _, url in tenants[:6])


def test_rollback_schema_targets_undo_each_tenants_own_objects_in_its_schema(tmp_path, db_url):
    """db.rollback --targets with schema targets, as db.migrate --targets runs them: each down runs with the tenant's
    schema as its search_path (SET LOCAL in its transaction; for the session while a down runs outside one, reset
    after), so unqualified downs undo that tenant's own index, column and table and delete its own tracking rows;
    the rows at risk are read from the tenant's own table (a row there: refused, exit 5, until --allow-data-loss)."""
    folder = make_drizzle_folder(tmp_path, [*MIGRATIONS, ("0003_concurrently", "CREATE INDEX CONCURRENTLY accounts_id ON accounts (id);")])
    for tag, text in {**DOWNS, "0003_concurrently": "DROP INDEX CONCURRENTLY IF EXISTS accounts_id;"}.items():
        (folder / f"{tag}.down.sql").write_text(text)
    names = ["acme", "globex"]
    write_targets(tmp_path / "fleet.toml", [(n, db_url) for n in names], schema=True)
    assert fleet(tmp_path, "--targets", "fleet.toml").returncode == 0
    with psycopg.connect(db_url, autocommit=True) as conn:  # acme's orders has a row; globex's none
        conn.execute("INSERT INTO acme.accounts VALUES (1); INSERT INTO acme.orders VALUES (1, 1, 9.5); ANALYZE acme.orders")

    def rollback(to: str, *more: str):
        argv = ["db.rollback", "-m", str(folder), "--targets", "fleet.toml", "--to", to, "--yes", *more]
        return run_in_process(argv, cwd=tmp_path)

    def objects():
        with psycopg.connect(db_url) as conn:
            indexes = conn.execute("SELECT schemaname, indexname FROM pg_indexes WHERE schemaname IN ('acme', 'globex') "
                                   "AND indexname IN ('accounts_id', 'orders_account') ORDER BY 1, 2").fetchall()  # fmt: skip
            columns = conn.execute("SELECT table_schema, table_name, column_name FROM information_schema.columns "
                                   "WHERE table_schema IN ('acme', 'globex') AND table_name IN ('accounts', 'orders') "
                                   "ORDER BY 1, 2, 3").fetchall()  # fmt: skip
            outside = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname IN ('public', 'drizzle')").fetchone()[0]
            search_path = conn.execute("SHOW search_path").fetchone()[0]
        assert outside == 0 and search_path == '"$user", public'  # nothing outside the tenants; no lasting setting
        return indexes, columns

    def tags(schema: str) -> list[str]:
        with psycopg.connect(db_url) as conn:
            return [r[0] for r in conn.execute(f'SELECT hash FROM "{schema}".__drizzle_migrations ORDER BY id')]

    applied = {n: tags(n) for n in names}
    assert all(len(h) == 4 for h in applied.values())
    one = rollback("0002_orders_total")  # one step on both: 0003's down runs outside a transaction, in each schema
    assert one.returncode == 0, one.stdout + one.stderr
    indexes, _ = objects()
    assert indexes == [("acme", "orders_account"), ("globex", "orders_account")]
    assert {n: tags(n) for n in names} == {n: h[:3] for n, h in applied.items()}

    refused = rollback("0001_orders", "--json")  # 0002's down drops orders.total: acme's holds a row
    assert refused.returncode == 5, refused.stdout + refused.stderr
    by_name = {t["name"]: t for t in json.loads(refused.stdout)["targets"]}
    assert by_name["acme"]["status"] == "failed" and by_name["globex"]["status"] == "rolled-back"
    assert "acme.orders" in json.dumps(by_name["acme"]["error"]), by_name["acme"]["error"]
    indexes, columns = objects()
    assert indexes == [("acme", "orders_account")]
    assert ("acme", "orders", "total") in columns and ("globex", "orders", "total") not in columns
    assert tags("acme") == applied["acme"][:3] and tags("globex") == applied["globex"][:2]

    allowed = rollback("0000_accounts", "--allow-data-loss")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    indexes, columns = objects()
    assert indexes == [] and columns == [("acme", "accounts", "id"), ("globex", "accounts", "id")]
    assert {n: tags(n) for n in names} == {n: h[:1] for n, h in applied.items()}
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM acme.accounts").fetchone() == (1,)  # 0000 stays: its rows with it
