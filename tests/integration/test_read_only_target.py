"""A target that cannot be written is exit 6 naming why (a standby, a replica endpoint, default_transaction_read_only
on the role, the database or the connection), before anything is created; read-only tasks still work there.
A setting the server refuses at connect is exit 2 (a setting to fix), not "unreachable"."""

import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.fixtures.cli import migrate_args, run_in_process
from tests.fixtures.folders import make_drizzle_folder

GOOD = ("0000_good", "CREATE TABLE good (id int);")
ROOT = Path(__file__).resolve().parents[2]


def as_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rsplit('@', 1)[-1]}"))


def nothing_created(db_url):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT to_regnamespace('drizzle') IS NULL AND to_regclass('good') IS NULL").fetchone()[0]


@pytest.fixture
def role(pg_server_url, db_url):
    name = f"mk_ro_{uuid.uuid4().hex[:8]}"
    dbname = urlsplit(db_url).path.lstrip("/")
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN")
        conn.execute(f'GRANT CREATE ON DATABASE "{dbname}" TO {name}')
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {name}")
    yield name
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {name}")
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE {name}")


def refused_read_only(tmp_path, url, db_url, *needles):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    result = run_in_process(migrate_args(url, folder), cwd=tmp_path)
    assert result.returncode == 6, result.stdout + result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr and "fix:" in result.stderr
    assert nothing_created(db_url)
    status = run_in_process(["db.status", "--migrations-dir", str(folder), "--database-url", url], cwd=tmp_path)
    assert status.returncode == 0 and "0000_good" in status.stdout, status.stderr  # reading still works
    return result.stderr


def test_a_role_with_default_transaction_read_only(tmp_path, db_url, pg_server_url, role):
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"ALTER ROLE {role} SET default_transaction_read_only = on")
    refused_read_only(
        tmp_path, as_user(db_url, role), db_url,
        f"the target is read-only: default_transaction_read_only is on on the role {role} (ALTER ROLE ... SET)",
        f"ALTER ROLE {role} RESET default_transaction_read_only",
    )  # fmt: skip


def test_a_database_with_default_transaction_read_only(tmp_path, db_url, pg_server_url):
    dbname = urlsplit(db_url).path.lstrip("/")
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = on')
    refused_read_only(tmp_path, db_url, db_url, f"on the database {dbname}", f"ALTER DATABASE {dbname} RESET")


def test_a_connection_that_asks_for_read_only(tmp_path, db_url):
    url = db_url + ("&" if "?" in db_url else "?") + "options=-c%20default_transaction_read_only%3Don"
    refused_read_only(tmp_path, url, db_url, "by the connection (options=-c default_transaction_read_only=on")


def test_every_writing_task_checks_before_it_writes(tmp_path, db_url, pg_server_url, role):
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"ALTER ROLE {role} SET default_transaction_read_only = on")
    url = as_user(db_url, role)
    folder = make_drizzle_folder(tmp_path, [GOOD])
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "001_a.sql").write_text("CREATE TABLE a (id int);\n")
    for args in (["db.migrate"], ["db.migrate-consolidated"], ["db.bootstrap", "--legacy-dir", str(legacy)]):
        result = run_in_process([*args, "--migrations-dir", str(folder), "--database-url", url], cwd=tmp_path)
        assert "Traceback" not in result.stdout + result.stderr
        assert result.returncode == 6, (args, result.stderr)
        assert "the target is read-only" in result.stderr
    assert nothing_created(db_url)


def test_a_setting_the_server_refuses_at_connect_is_a_configuration_error(tmp_path, db_url):
    url = db_url + ("&" if "?" in db_url else "?") + "options=-c%20mk_no_such_setting%3D1"
    folder = make_drizzle_folder(tmp_path, [GOOD])
    result = run_in_process(migrate_args(url, folder), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "a connection parameter or setting was refused" in result.stderr
    assert 'unrecognized configuration parameter "mk_no_such_setting"' in result.stderr
    assert "unreachable" not in result.stderr and "did not answer in time" not in result.stderr


# ------------------------------------------------------------------------------------------ a real standby
def _debian_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_basebackup"))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def standby():
    """(primary URL, standby URL): a Debian PostgreSQL primary (scripts/test-server.sh) and a hot standby of it
    made with pg_basebackup -R."""
    bin_dir = _debian_bin()
    if bin_dir is None or shutil.which("runuser") is None:
        pytest.skip("needs Debian's PostgreSQL server binaries (pg_basebackup) to build a standby")
    base = Path(tempfile.mkdtemp(prefix="mk-standby-"))  # pytest's tmp folders are 0700: the server user needs a way in
    base.chmod(0o755)
    primary_dir, standby_dir = base / "primary", base / "standby"
    primary = subprocess.run(
        [str(ROOT / "scripts/test-server.sh"), "start", str(primary_dir)], capture_output=True, text=True, timeout=120
    )
    if primary.returncode != 0:
        pytest.fail(f"cannot start a Debian PostgreSQL: {primary.stderr.strip()[-600:]}")
    primary_url = primary.stdout.strip().splitlines()[-1]
    port = urlsplit(primary_url).port
    owner = ["runuser", "-u", "postgres", "--"] if Path("/proc/self").owner() == "root" else []
    try:
        standby_dir.mkdir(mode=0o700)
        if owner:
            shutil.chown(standby_dir, "postgres")
        subprocess.run([*owner, str(bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                        "-D", str(standby_dir / "data"), "-R", "-X", "stream"], check=True, capture_output=True, timeout=120)  # fmt: skip
        standby_port = _free_port()  # not port + 1: another server of the run may hold it
        with open(standby_dir / "data" / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {standby_port}\nunix_socket_directories = '{standby_dir}'\nhot_standby = on\n")
        started = subprocess.run([*owner, str(bin_dir / "pg_ctl"), "-D", str(standby_dir / "data"), "-l", str(standby_dir / "log"),
                                  "-w", "-t", "60", "start"], capture_output=True, text=True, timeout=120)  # fmt: skip
        if started.returncode != 0:
            log = (standby_dir / "log").read_text(errors="replace") if (standby_dir / "log").exists() else ""
            pytest.fail(f"the standby did not start: {started.stderr.strip()[-400:]}\n{log[-1500:]}")
        yield primary_url, f"postgresql://postgres@127.0.0.1:{standby_port}/postgres"
    finally:
        if (standby_dir / "data" / "postmaster.pid").exists():
            subprocess.run([*owner, str(bin_dir / "pg_ctl"), "-D", str(standby_dir / "data"), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)  # fmt: skip
        subprocess.run([str(ROOT / "scripts/test-server.sh"), "stop", str(primary_dir)], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def test_a_standby_is_named_and_refused(tmp_path, standby):
    primary_url, standby_url = standby
    with psycopg.connect(standby_url) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    folder = make_drizzle_folder(tmp_path, [GOOD])
    result = run_in_process(migrate_args(standby_url, folder), cwd=tmp_path)
    assert result.returncode == 6, result.stdout + result.stderr
    assert "the target is a standby server and cannot be migrated" in result.stderr
    assert "pg_is_in_recovery() = true" in result.stderr and "target_session_attrs=read-write" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    status = run_in_process(["db.status", "--migrations-dir", str(folder), "--database-url", standby_url], cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    with psycopg.connect(primary_url) as conn:
        assert conn.execute("SELECT to_regnamespace('drizzle')").fetchone() == (None,)
