"""No password in any output: 25 connection-string shapes x every task that takes a URL x every output form
(plain, --json, --dry-run, env.check, Invoke's -d/--debug), plus short passwords that must not mangle other
words. Real errors: nothing listens on 127.0.0.1:1 (connection refused at once), the test server answers
"database does not exist" and "password authentication failed".

Tasks run in-process (tests/fixtures/cli.py: the console script's Program, parser and error path) to keep the
matrix fast; the -d/--debug runs and a few others go through the console script as a subprocess (Invoke's debug
log is written by the logging module, which pytest's own handlers would swallow in-process)."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from migrakit.core import redact
from migrakit.db.connect import server
from tests.fixtures.cli import run_cli, run_in_process
from tests.fixtures.folders import make_drizzle_folder
from tests.integration.test_bad_input import password_role_url, with_user  # noqa: F401 (a fixture)

DEAD = "127.0.0.1:1"  # nothing listens here: a real "connection refused"

# (id, connection string, pieces that must appear nowhere, extra environment). Every piece is a marker that
# occurs nowhere else in the output, so finding one is a leak.
SHAPES: list[tuple[str, str, list[str], dict[str, str]]] = [
    ("plain", f"postgresql://app:Pl4inSecret@{DEAD}/app", ["Pl4inSecret"], {}),
    ("postgres-scheme", f"postgres://app:Sch3meSecret@{DEAD}/app", ["Sch3meSecret"], {}),
    ("encoded-at", f"postgresql://app:Enc0ded%40AtPw@{DEAD}/app", ["Enc0ded", "AtPw", "Enc0ded@AtPw"], {}),
    ("unencoded-at", f"postgresql://app:Unenc0@ss@{DEAD}/app", ["Unenc0", "Unenc0@ss"], {}),
    ("unencoded-two-at", "postgresql://app:Kx9q@Vq2z@Wm7r@localhost/app", ["Kx9q", "Vq2z", "Wm7r"], {}),
    ("unencoded-slash", f"postgresql://app:Sl4sh/Half2@{DEAD}/app", ["Sl4sh", "Half2"], {}),
    ("hash", f"postgresql://app:Ha5h#Tail9@{DEAD}/app", ["Ha5h", "Tail9"], {}),
    ("encoded-hash", f"postgresql://app:Ha6h%23Tail8@{DEAD}/app", ["Ha6h", "Tail8"], {}),
    ("question-mark", f"postgresql://app:Qu3s?Mark7@{DEAD}/app", ["Qu3s", "Mark7"], {}),
    ("query-password", f"postgresql://app@{DEAD}/app?password=Qu3ryPw", ["Qu3ryPw"], {}),
    ("query-password-last", f"postgresql://app@{DEAD}/app?sslmode=disable&password=Qu4ryPw", ["Qu4ryPw"], {}),
    ("encoded-everything", f"postgresql://app:{quote('Sp3c!al:$&+,;=x', safe='')}@{DEAD}/app", ["Sp3c!al", "Sp3c%21al"], {}),
    ("dsn", "host=127.0.0.1 port=1 user=app password=Dsn5ecret dbname=app", ["Dsn5ecret"], {}),
    ("dsn-quoted-space", "host=127.0.0.1 port=1 password='Qu0ted Sp4ce' dbname=app", ["Qu0ted", "Sp4ce"], {}),
    ("dsn-escaped-quote", "host=127.0.0.1 port=1 password='Esc4ped\\'Qu0te' dbname=app", ["Esc4ped", "Qu0te"], {}),
    ("dsn-unquoted-space", "host=127.0.0.1 port=1 password=Unqu0ted Sp4ced dbname=app", ["Unqu0ted", "Sp4ced"], {}),
    ("no-scheme-colon", "postgres//app:M4lformed@localhost/app", ["M4lformed"], {}),
    ("mysql", "mysql://app:My5qlPw@localhost/app", ["My5qlPw"], {}),
    ("http", "http://app:Ht7pPw@localhost/app", ["Ht7pPw"], {}),
    ("bad-percent", f"postgresql://app:B4dPct%zzEnd@{DEAD}/app", ["B4dPct", "zzEnd"], {}),
    ("bad-port", "postgresql://app:P0rtPw@127.0.0.1:notaport/app", ["P0rtPw"], {}),
    ("options-password", f"postgresql://app:0pt1onPw@{DEAD}/app?options=-c%20password%3D0ptVal9", ["0pt1onPw", "0ptVal9"], {}),
    ("multi-host", "postgresql://app:Mult1Host@127.0.0.1:1,127.0.0.1:2/app", ["Mult1Host"], {}),
    ("pgpassword-env", f"postgresql://app@{DEAD}/app", ["EnvPgPa55"], {"PGPASSWORD": "EnvPgPa55"}),
    ("database-url-env", "", ["EnvUrlPa55"], {"DATABASE_URL": f"postgresql://app:EnvUrlPa55@{DEAD}/app"}),
]

# every task that takes a URL, in every output form it has
FORMS: list[list[str]] = [
    ["db.migrate"],
    ["db.migrate", "--json"],
    ["db.migrate", "--dry-run"],
    ["db.migrate", "--dry-run", "--json"],
    ["db.status"],
    ["db.status", "--json"],
    ["db.migrate-consolidated", "--dry-run"],
    ["db.bootstrap", "--dry-run", "--legacy-dir", "legacy"],
    ["db.bootstrap", "--json", "--legacy-dir", "legacy"],
    ["db.upgrade-tracking", "--migrations-dir", "v1"],  # a Drizzle 1.0 folder: the task then connects
    ["db.check"],
    ["db.check", "--json"],
    ["db.baseline"],
    ["db.generate"],
    ["db.consolidate", "--from", "0000_good", "--to", "0000_good", "--yes"],
    ["env.check"],
    ["env.check", "--json"],
    ["legacy.retire", "--legacy-dir", "legacy"],
    ["legacy.retire", "--legacy-dir", "legacy", "--json"],
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    make_drizzle_folder(tmp_path, [("0000_good", "CREATE TABLE good (id int);")])
    (tmp_path / "v1" / "20250101000000_init").mkdir(parents=True)
    (tmp_path / "v1" / "20250101000000_init" / "migration.sql").write_text("CREATE TABLE good (id int);\n")
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "001_a.sql").write_text("CREATE TABLE legacy_a (id int);\n")
    (tmp_path / "schema.sql").write_text("CREATE TABLE good (id int);\n")
    (tmp_path / "pyproject.toml").write_text('[tool.migrakit]\nschema = "schema.sql"\n')
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "project"]):  # legacy.retire works in a repository
        subprocess.run([*git, *cmd], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    return tmp_path


def leaks(output: str, pieces: list[str]) -> list[str]:
    return [p for p in pieces if p in output]


def args_for(form: list[str], url: str) -> list[str]:
    return [*form, "--database-url", url] if url else list(form)


@pytest.mark.parametrize("shape", SHAPES, ids=[s[0] for s in SHAPES])
def test_no_password_in_any_task_or_output_form(project, shape):
    _, url, pieces, env = shape
    for form in FORMS:
        result = run_in_process(args_for(form, url), cwd=project, env=env)
        out = result.stdout + result.stderr
        assert result.returncode != 0, (form, out)
        assert result.returncode in (2, 6), (form, result.returncode, out)
        assert not leaks(out, pieces), (form, leaks(out, pieces), out)
        assert "Traceback" not in out, (form, out)
        if "--json" in form:
            assert json.loads(result.stdout)["error"]["exit_code"] == result.returncode, (form, out)


@pytest.mark.parametrize("shape", SHAPES, ids=[s[0] for s in SHAPES])
def test_no_password_in_invokes_debug_log(project, shape):
    _, url, pieces, env = shape
    result = run_cli(["-d", *args_for(["db.migrate", "--dry-run"], url)], cwd=project, env=env)
    out = result.stdout + result.stderr
    assert "invoke.parser" in out  # the debug log really was written
    assert result.returncode in (2, 6), out
    assert not leaks(out, pieces), (leaks(out, pieces), out)


@pytest.mark.parametrize("shape", [s for s in SHAPES if s[1]], ids=[s[0] for s in SHAPES if s[1]])
def test_no_password_of_a_wrong_shadow_url(project, db_url, shape):
    _, url, pieces, env = shape
    assert run_in_process(["db.migrate", "--database-url", db_url], cwd=project).returncode == 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE beyond_the_migrations (id int)")  # db.baseline then needs its shadow
    for form in (["db.check"], ["db.check", "--json"], ["db.baseline"]):
        result = run_in_process([*form, "--database-url", db_url, "--shadow-url", url], cwd=project, env=env)
        out = result.stdout + result.stderr
        assert result.returncode in (2, 6), (form, out)
        assert not leaks(out, pieces), (form, leaks(out, pieces), out)


def test_unparseable_and_foreign_urls_are_named_not_echoed(project):
    result = run_in_process(["db.migrate", "--database-url", "postgres//app:M4lformed@localhost/app"], cwd=project)
    assert result.returncode == 2
    assert "<unparseable database URL: host localhost, database app>" in result.stderr
    assert "postgres//app" not in result.stderr
    result = run_in_process(["db.status", "--database-url", "mysql://app:My5qlPw@db.internal/app"], cwd=project)
    assert result.returncode == 2
    assert "is a mysql:// URL (mysql://db.internal/app), not a PostgreSQL one" in result.stderr
    assert "postgresql://<user>:<password>@<host>:<port>/<database>" in result.stderr
    result = run_in_process(["db.status", "--database-url", "postgresql://app:Kx9q@Vq2z@localhost/app"], cwd=project)
    assert result.returncode == 2, result.stderr
    assert "holds an unencoded @ or /" in result.stderr and "%40" in result.stderr
    assert "postgresql://app:***@localhost/app" in result.stderr


@pytest.mark.parametrize("password", ["x", "fix", "1", "e", "at", "ok"])
def test_a_short_password_mangles_no_other_word(project, password):
    url = f"postgresql://app:{password}@{DEAD}/app"
    for form in (["db.migrate"], ["db.status", "--json"], ["env.check"], ["db.migrate", "--dry-run"]):
        result = run_in_process([*form, "--database-url", url], cwd=project)
        out = result.stdout + result.stderr
        assert result.returncode == 6, out
        assert f":{password}@" not in out and "app:***@127.0.0.1:1/app" in out
        assert "127.0.0.1" in out  # the host survives password "1"
        if "--json" in form:
            data = json.loads(result.stdout)
            assert data["error"]["fix"] and data["error"]["message"].startswith("cannot connect")  # keys survive "fix"
        else:
            assert re.search(r"^\s+fix:", out, re.M), out  # the label survives password "fix" and "x"
            assert "fi***" not in out and "***:" not in out.replace("app:***@", "")


def test_the_right_url_with_a_missing_database_names_it_without_the_password(project, pg_server_url):
    missing = server.with_database(pg_server_url, f"mk_missing_{uuid.uuid4().hex[:8]}")
    url = re.sub(r"^postgresql://([^:@/]*)(:[^@]*)?@", r"postgresql://\1:Miss1ngDbPw@", missing)
    for form in (["db.migrate"], ["db.status", "--json"], ["env.check"], ["db.migrate", "--dry-run"]):
        result = run_in_process([*form, "--database-url", url], cwd=project)
        out = result.stdout + result.stderr
        assert result.returncode == 6, out
        assert "does not exist" in out and "Miss1ngDbPw" not in out


@pytest.mark.parametrize("wrong", ["Wr0ngPw", "Wr0ng@At9", "Wr0ng/Sl4sh", "Wr0ng#H4sh", "Wr0ng'Qu0te"])
def test_a_wrong_password_on_a_real_server_is_never_printed(project, password_role_url, wrong):  # noqa: F811
    role, db_url = password_role_url
    url = with_user(db_url, role, quote(wrong, safe=""))
    pieces = [wrong, quote(wrong, safe="")] + [p for p in re.split(r"[@/#']", wrong) if len(p) > 4]
    for form in (["db.migrate"], ["db.migrate", "--json"], ["db.status"], ["env.check", "--json"]):
        result = run_in_process([*form, "--database-url", url], cwd=project)
        out = result.stdout + result.stderr
        assert result.returncode == 6 and "authentication failed" in out, out
        assert not leaks(out, pieces), (form, out)
    dsn = psycopg.conninfo.make_conninfo(url)  # the same credentials as a key=value string, quoted by psycopg
    result = run_in_process(["db.status", "--database-url", dsn], cwd=project)
    assert result.returncode == 6 and not leaks(result.stdout + result.stderr, pieces), result.stderr


def test_redaction_of_every_shape_is_pure_and_masks_the_piece_libpq_reads():
    for _, url, pieces, _env in SHAPES:
        if not url:
            continue
        libpq = redact.libpq_password(url, psycopg.conninfo.conninfo_to_dict)
        secrets = redact.passwords(url, [libpq] if libpq else [])
        text = f"cannot connect to {url}: failed near '{libpq}' and \"{url}\""
        out = redact.redact_text(text, [url], secrets)
        assert not leaks(out, pieces), (url, out)
        assert not leaks(server.redact_url(url), pieces), url
