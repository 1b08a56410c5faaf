"""Every task against every broken input (issue 13, item 4): the documented exit code, never a `Traceback`, never
a password. Tasks come from the collection `migrakit --list` shows (checked equal); each runs in this process
through the console script's entry point (tests/fixtures/cli.py `run_in_process`) in a fresh project and database.

BROKEN below is the list; its size is asserted so that shrinking it is a visible change. (Single-task cases with
their full messages stay in test_bad_input.py; this file is about breadth.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from migrakit.tasks import ns
from tests.fixtures.cli import run_in_process
from tests.fixtures.folders import make_drizzle_folder

SECRET = "Br0ken-In9ut-S3cret"
CONFIG, DB_UNAVAILABLE = 2, 6
DOCUMENTED = {0, 1, 2, 3, 4, 5, 6, 7}  # README "Exit codes"
# db.generate's custom migration is empty until someone writes it; db.migrate runs after it (sorted) and would
# refuse it without --allow-empty.
ARGS = {
    "db.generate": ["--custom", "x"],
    "db.migrate": ["--allow-empty"],
    "db.consolidate": ["--from", "0000_a", "--to", "0000_a"],
    "db.rollback": ["--steps", "1"],
    "db.generate-down": ["--all"],
}
WRITERS = {"db.migrate", "db.migrate-consolidated", "db.bootstrap", "dev", "build"}  # write without --yes
# Tasks that connect to DATABASE_URL with these arguments (the others only read or write files).
# (db.generate-down connects only to the shadow server, not to DATABASE_URL)
CONNECTING = WRITERS | {"db.status", "db.check", "db.lint", "db.baseline", "env.check", "legacy.retire", "db.rollback"}


def task_names() -> list[str]:
    return sorted(ns.task_names)


@dataclass
class Project:
    root: Path
    db_url: str
    env: dict[str, str]
    admin_url: str
    extra_toml: str = ""
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    fifos: list[Path] = field(default_factory=list)  # opened from the other end by a watchdog if a task blocks

    def write_pyproject(self) -> None:
        py = sys.executable
        (self.root / "pyproject.toml").write_text(
            f'[project]\nname = "p"\n\n[tool.migrakit]\nlegacy_dir = "legacy"\nshadow_url = "{self.admin_url}"\n'
            f'{self.extra_toml}\n[tool.migrakit.app]\ndev = "{py} -c pass"\nbuild = "{py} -c pass"\n',
            encoding="utf-8",
        )


def with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


def with_user(url: str, user: str, password: str | None = None) -> str:
    parts = urlsplit(url)
    auth = f"{user}:{password}" if password else user
    return urlunsplit(parts._replace(netloc=f"{auth}@{parts.netloc.rsplit('@', 1)[-1]}"))


# ------------------------------------------------------------------------------------- the broken inputs
def toml(lines: str) -> Callable[[Project], None]:
    def apply(p: Project) -> None:
        p.extra_toml += lines + "\n"

    return apply


def env(**values: str) -> Callable[[Project], None]:
    def apply(p: Project) -> None:
        p.env.update({k: v.replace("{db}", p.db_url) for k, v in values.items()})

    return apply


def raw_pyproject(data: bytes) -> Callable[[Project], None]:
    def apply(p: Project) -> None:
        p.cleanup.append(lambda: (p.root / "pyproject.toml").write_bytes(data))

    return apply


def db_query(query: str, password: bool = True) -> Callable[[Project], None]:
    def apply(p: Project) -> None:
        url = with_user(p.db_url, "postgres", SECRET) if password else p.db_url
        p.env["DATABASE_URL"] = with_query(url, query)

    return apply


# The tasks that read no migration file: the embedded server's status and stop (they answer the same whatever the
# folder holds).
SERVER_TASKS = {"db.server-status", "db.server-stop"}


def _reads_sql(task: str, code: int) -> int:
    return 0 if task in SERVER_TASKS else code


# id -> (how to break the project, expected code for every task, or a function task -> code; text every
#        run's output must contain when it fails with that code)
Expect = int | Callable[[str], int | set[int]]
BROKEN: dict[str, tuple[Callable[[Project], None], Expect, str]] = {
    # [tool.migrakit] in pyproject.toml
    "toml-unknown-key": (toml('migration_dir = "migrations"'), CONFIG, "did you mean 'migrations_dir'?"),
    "toml-int-as-string": (toml('lock_retries = "three"'), CONFIG, "is not an integer"),
    "toml-bool-as-int": (toml("lock_retries = true"), CONFIG, "is not an integer"),
    "toml-duration-words": (toml('lock_timeout = "5 seconds"'), CONFIG, "is not a duration PostgreSQL accepts"),
    "toml-duration-number": (toml("statement_timeout = 5"), CONFIG, "is not a string"),
    "toml-negative-wait": (toml("lock_wait_timeout = -5"), CONFIG, "is negative"),
    "toml-bool-word": (toml('pipeline = "maybe"'), CONFIG, "is not a boolean"),
    "toml-table-quote": (toml("migrations_table = 'x\"y'"), CONFIG, "cannot name the tracking table"),
    "toml-schema-empty": (toml('migrations_schema = ""'), CONFIG, "cannot name the tracking table"),
    "toml-table-too-long": (toml(f'migrations_table = "{"t" * 64}"'), CONFIG, "64 bytes long"),
    "toml-url-env-name": (toml('database_url_env = "MY DB"'), CONFIG, "is not an environment variable name"),
    "toml-direct-sslmode": (toml('direct_url = "postgresql://h/d?sslmode=verify"'), CONFIG, "sslmode='verify'"),
    "env-direct-keyword": (env(MIGRAKIT_DIRECT_URL="postgresql://h/d?sslmod=require"), CONFIG, "did you mean 'sslmode'?"),
    "toml-syntax": (raw_pyproject(b"[tool.migrakit\nmigrations_dir = 1\n"), CONFIG, "fix the TOML syntax"),
    "toml-not-utf8": (raw_pyproject(b'[tool.migrakit]\nbase_branch = "\xff"\n'), CONFIG, "cannot read pyproject.toml"),
    "toml-not-a-table": (raw_pyproject(b"[tool]\nmigrakit = 3\n"), CONFIG, "is not a table"),
    "toml-app-not-strings": (raw_pyproject(b"[tool.migrakit.app]\ndev = 5\n"), CONFIG, "is not a table of strings"),
    # MIGRAKIT_* variables
    "env-database-url": (env(MIGRAKIT_DATABASE_URL="{db}"), CONFIG, "set DATABASE_URL"),
    "env-int": (env(MIGRAKIT_LOCK_RETRIES="three"), CONFIG, "is not an integer"),
    "env-negative-int": (env(MIGRAKIT_LOCK_RETRIES="-1"), CONFIG, "is negative"),
    "env-float": (env(MIGRAKIT_LOCK_WAIT_TIMEOUT="inf"), CONFIG, "is not a number"),
    "env-bool": (env(MIGRAKIT_PIPELINE="perhaps"), CONFIG, "is not a boolean"),
    "env-duration-unit": (env(MIGRAKIT_LOCK_TIMEOUT="5 parsecs"), CONFIG, "'parsecs' is not a unit"),
    "env-duration-range": (env(MIGRAKIT_STATEMENT_TIMEOUT="-1"), CONFIG, "outside the valid range"),
    "env-duration-overflow": (env(MIGRAKIT_LOCK_TIMEOUT="25d"), CONFIG, "exceeds the integer range"),
    "env-table-quote": (env(MIGRAKIT_MIGRATIONS_TABLE='x"y'), CONFIG, "double quote"),
    "env-schema-nul": (env(MIGRAKIT_MIGRATIONS_SCHEMA="a\x01b" * 22), CONFIG, "bytes long"),
    "env-shadow-options": (env(MIGRAKIT_SHADOW_URL="postgresql://h/d?options=-c%20lock_timeout"), CONFIG, "has no value"),
    # the database URL and libpq's variables
    "url-sslmode": (db_query("sslmode=requir"), CONFIG, "did you mean 'require'?"),
    "url-sslmode-case": (db_query("sslmode=REQUIRE"), CONFIG, "lower case"),
    "url-keyword": (db_query("sslmod=require"), CONFIG, "did you mean 'sslmode'?"),
    "url-session-attrs": (db_query("target_session_attrs=writer"), CONFIG, "target_session_attrs='writer'"),
    "url-options-space": (db_query("options=-c%20lock_timeout%3D5%20seconds"), CONFIG, "5s, not 5 seconds"),
    "url-options-duration": (db_query("options=-c%20statement_timeout%3D1x"), CONFIG, "is not a duration"),
    "url-options-typo": (db_query("options=-c%20lock_timout%3D5s"), CONFIG, "did you mean 'lock_timeout'?"),
    "url-options-bool": (db_query("options=-c%20default_transaction_read_only%3Dperhaps"), CONFIG, "is not a boolean"),
    "dsn-sslmode": (env(DATABASE_URL=f"host=h password={SECRET} sslmode=x"), CONFIG, "sslmode='x'"),
    "dsn-keyword": (env(DATABASE_URL=f"host=h password={SECRET} sslmod=x"), CONFIG, "'sslmod'"),
    "pgsslmode": (env(PGSSLMODE="on"), CONFIG, "environment variable PGSSLMODE"),
    "pgoptions": (env(PGOPTIONS="-c lock_timeout=5 parsecs"), CONFIG, "environment variable PGOPTIONS"),
    # settings only the server can judge, a server that is not there, a target that cannot be written
    "server-refuses-setting": (
        db_query("options=-c%20mk_no_such_setting%3D1"),
        lambda t: CONFIG if t in CONNECTING else DOCUMENTED,
        "unrecognized configuration parameter",
    ),
    "unreachable": (
        env(DATABASE_URL=f"postgresql://app:{SECRET}@127.0.0.1:1/app"),
        lambda t: DB_UNAVAILABLE if t in CONNECTING else DOCUMENTED,
        "the server is unreachable",
    ),
    "read-only-role": (
        lambda p: _read_only_role(p),
        lambda t: DB_UNAVAILABLE if t in WRITERS else (0 if t in ("db.status", "env.check") else DOCUMENTED),
        "the target is read-only",
    ),
    # files: a migration that cannot be read is exit 1 for every task (each reads the folder)
    "sql-is-a-directory": (lambda p: _replace_sql(p, "dir"), lambda t: _reads_sql(t, 1), "0000_a.sql"),
    "sql-dangling-link": (lambda p: _replace_sql(p, "link"), lambda t: _reads_sql(t, 1), "0000_a.sql"),
    "sql-not-utf8": (lambda p: _replace_sql(p, "latin1"), lambda t: _reads_sql(t, 1), "not valid UTF-8"),
    # folders (missing or of the wrong kind): item 1 of issue 13 (another branch) makes these exit 2; until then
    # any documented code without a traceback
    "missing-migrations-dir": (env(MIGRAKIT_MIGRATIONS_DIR="nope"), lambda t: DOCUMENTED, ""),
    "journal-is-a-directory": (lambda p: _journal_dir(p), lambda t: _reads_sql(t, CONFIG), "is a directory, not a regular file"),
    "missing-legacy-dir": (env(MIGRAKIT_LEGACY_DIR="nope"), lambda t: CONFIG if t == "db.bootstrap" else DOCUMENTED, ""),
    "consolidated-dir-is-a-file": (lambda p: (p.root / "migrations-consolidated").write_text("x"), lambda t: DOCUMENTED, ""),
    # an adversary's files (issue 25.7): exit 2 naming the file, no traceback, no hang, nothing read from outside
    "sql-is-a-fifo": (lambda p: _hostile_sql(p, "fifo"), lambda t: _reads_sql(t, CONFIG), "0000_a.sql is a FIFO"),
    "sql-links-to-dev-zero": (lambda p: _hostile_sql(p, "zero"), lambda t: _reads_sql(t, CONFIG), "is a character device"),
    "sql-symlink-loop": (lambda p: _hostile_sql(p, "loop"), lambda t: _reads_sql(t, CONFIG), "0000_a.sql is a symlink loop"),
    "sql-over-max-file-mb": (lambda p: _hostile_sql(p, "large"), lambda t: _reads_sql(t, CONFIG), "larger than max_file_mb"),
    "journal-is-a-fifo": (lambda p: _hostile_journal(p, "fifo"), lambda t: _reads_sql(t, CONFIG), "_journal.json is a FIFO"),
    "journal-symlink-loop": (lambda p: _hostile_journal(p, "loop"), lambda t: _reads_sql(t, CONFIG), "_journal.json is a symlink loop"),
    "journal-nested-200000-deep": (lambda p: _hostile_journal(p, "deep"), lambda t: _reads_sql(t, CONFIG), "nested too deep"),
    "journal-tag-outside": (lambda p: _journal_entry(p, tag="../outside/x"), lambda t: _reads_sql(t, CONFIG), "climbs out of the migrations folder"),
    "journal-tag-nul": (lambda p: _journal_entry(p, tag="0000_a\x00"), lambda t: _reads_sql(t, CONFIG), "holds a NUL byte"),
    "journal-when-1e30": (lambda p: _journal_entry(p, when=10**30), lambda t: _reads_sql(t, 1), "journal entry #0 (0000_a): `when`"),
    "legacy-file-is-a-fifo": (lambda p: _legacy_fifo(p), lambda t: _reads_legacy(t, CONFIG), "001_x.sql is a FIFO"),
}
# Tasks that read the legacy folder ([tool.migrakit] legacy_dir): what loads every source, not the writers of a
# new migration (db.generate) nor the tasks that read only the Mode 1 folder.
LEGACY_READERS = {"db.status", "db.migrate", "db.migrate-consolidated", "db.bootstrap", "db.check", "db.lint",
                  "db.baseline", "legacy.retire", "dev", "build", "env.check"}  # fmt: skip


def _reads_legacy(task: str, code: int) -> int | set[int]:
    return code if task in LEGACY_READERS else DOCUMENTED


def _hostile_sql(p: Project, how: str) -> None:
    sql = p.root / "migrations" / "0000_a.sql"
    sql.unlink()
    if how == "fifo":
        os.mkfifo(sql)
        p.fifos.append(sql)
    elif how == "zero":
        sql.symlink_to("/dev/zero")
    elif how == "loop":
        sql.symlink_to(p.root / "migrations" / "0000_b.sql")
        (p.root / "migrations" / "0000_b.sql").symlink_to(sql)
    else:
        p.extra_toml += "max_file_mb = 1\n"
        sql.write_text("CREATE TABLE a (id int);\n" + "-- padding\n" * 200_000)  # 2.2 MiB


def _hostile_journal(p: Project, how: str) -> None:
    journal = p.root / "migrations" / "meta" / "_journal.json"
    journal.unlink()
    if how == "fifo":
        os.mkfifo(journal)
        p.fifos.append(journal)
    elif how == "loop":
        journal.symlink_to(journal)
    else:
        journal.write_text('{"version": "7", "dialect": "postgresql", "entries": [], "x": ' + "[" * 200_000 + "]" * 200_000 + "}")


def _journal_entry(p: Project, **change: object) -> None:
    journal = p.root / "migrations" / "meta" / "_journal.json"
    data = json.loads(journal.read_text())
    data["entries"][0].update(change)
    journal.write_text(json.dumps(data, indent=2))
    outside = p.root / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "x.sql").write_text("CREATE TABLE read_from_outside (id int);")


def _legacy_fifo(p: Project) -> None:
    sql = p.root / "legacy" / "001_x.sql"
    sql.unlink()
    os.mkfifo(sql)
    p.fifos.append(sql)


def _replace_sql(p: Project, how: str) -> None:
    sql = p.root / "migrations" / "0000_a.sql"
    sql.unlink()
    if how == "dir":
        sql.mkdir()
    elif how == "link":
        sql.symlink_to(p.root / "gone.sql")
    else:
        sql.write_bytes("-- caf\xe9\nCREATE TABLE a (id int);".encode("latin-1"))


def _journal_dir(p: Project) -> None:
    journal = p.root / "migrations" / "meta" / "_journal.json"
    journal.unlink()
    journal.mkdir()


def _read_only_role(p: Project) -> None:
    role = f"mk_bro_{uuid.uuid4().hex[:8]}"
    dbname = urlsplit(p.db_url).path.lstrip("/")
    with psycopg.connect(p.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f'GRANT CREATE ON DATABASE "{dbname}" TO {role}')
        conn.execute(f"ALTER ROLE {role} SET default_transaction_read_only = on")
    p.env["DATABASE_URL"] = with_user(p.db_url, role)

    def drop() -> None:
        with psycopg.connect(p.db_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
        with psycopg.connect(p.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {role}")

    p.cleanup.append(drop)


# --------------------------------------------------------------------------------------------- the runs
@pytest.fixture
def project(tmp_path, db_url, pg_server_url):
    """A project every task can run in: one migration, a legacy folder, the app commands, a git repository."""
    root = tmp_path / "project"
    make_drizzle_folder(root, [("0000_a", "CREATE TABLE a (id int);")])
    (root / "legacy").mkdir()
    (root / "legacy" / "001_x.sql").write_text("CREATE TABLE x (id int);\n")
    p = Project(root, db_url, {"DATABASE_URL": db_url}, pg_server_url)
    p.write_pyproject()
    subprocess.run(
        "git init -q -b main && git add -A && git -c user.email=t@t -c user.name=t commit -qm init",
        shell=True, cwd=root, check=True, capture_output=True,
    )  # fmt: skip
    yield p
    for undo in p.cleanup[::-1]:
        if undo.__name__ == "drop":
            undo()


def run_every_task(p: Project) -> dict[str, subprocess.CompletedProcess[str]]:
    return {t: _unblocked(p, lambda t=t: run_in_process([t, *ARGS.get(t, [])], cwd=p.root, env=p.env), t)
            for t in task_names()}  # fmt: skip


HANG = 60.0  # seconds a task may take on a project with a FIFO before the watchdog calls it a hang


def _unblocked(p: Project, run: Callable[[], subprocess.CompletedProcess[str]], task: str) -> subprocess.CompletedProcess[str]:
    """`run()`; where the project holds FIFOs, a watchdog opens their writing end after HANG seconds, so that a
    task blocked reading one returns (and the test fails) instead of hanging the suite."""
    if not p.fifos:
        return run()
    hung: list[Path] = []

    def release() -> None:
        for fifo in p.fifos:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # ENXIO: nobody is reading it
                hung.append(fifo)
            except OSError:
                pass

    watchdog = threading.Timer(HANG, release)
    watchdog.start()
    try:
        result = run()
    finally:
        watchdog.cancel()
    assert not hung, f"{task} blocked reading {hung}"
    return result


def test_the_task_list_is_the_cli_list(tmp_path):
    listed = run_in_process(["--list"], cwd=tmp_path)
    assert listed.returncode == 0
    names = set(re.findall(r"^  ([a-z][\w.-]*)(?:\s{2,}|$)", listed.stdout, re.M))  # not the wrapped help lines
    assert names == set(task_names()) and len(names) >= 15


def test_the_broken_input_list_keeps_its_size():
    assert len(BROKEN) >= 50


def test_every_task_runs_on_the_unbroken_project(project):
    results = run_every_task(project)
    for task, r in results.items():
        out = r.stdout + r.stderr
        assert "Traceback" not in out and r.returncode in DOCUMENTED, (task, out[-2000:])
    assert {t: results[t].returncode for t in ("db.status", "db.migrate", "env.check", "db.consolidate")} == {
        "db.status": 0, "db.migrate": 0, "env.check": 0, "db.consolidate": 5,
    }  # fmt: skip


@pytest.mark.parametrize("case", list(BROKEN))
def test_every_task_answers_a_broken_input_with_its_exit_code(project, case):
    breaks, expect, needle = BROKEN[case]
    breaks(project)
    project.write_pyproject()
    for undo in project.cleanup:
        if undo.__name__ == "<lambda>":
            undo()  # raw pyproject bytes replace the written file
    wrong = {}
    for task, r in run_every_task(project).items():
        out = r.stdout + r.stderr
        assert "Traceback" not in out, (task, out[-3000:])
        assert SECRET not in out, (task, out)
        wanted = expect if isinstance(expect, int) else expect(task)
        codes = wanted if isinstance(wanted, set) else {wanted}
        if r.returncode not in codes:
            wrong[task] = (r.returncode, out[-600:])
        elif r.returncode != 0 and needle and codes != DOCUMENTED and needle not in out:
            wrong[task] = (r.returncode, f"{needle!r} not in: {out[-600:]}")
        if r.returncode in (1, 2, 4, 6):  # an error (3 lists the drift, 5 prints the plan that needs --yes)
            assert "fix" in out, (task, out)
    assert wrong == {}


def test_an_unknown_migrakit_variable_warns_on_stderr_and_every_task_exits_as_without_it(project):
    """Issue 25.5: a team's own MIGRAKIT_* variable (MIGRAKIT_VERSION pinning the install in CI) or a typo is a
    warning naming the closest setting; each task's exit code is the one it has without the variable."""
    run_every_task(project)  # the first pass changes the database (db.migrate, build); the second is the baseline
    plain = {t: r.returncode for t, r in run_every_task(project).items()}
    project.env.update(MIGRAKIT_VERSION="1.2.3", MIGRAKIT_LOCK_TIMOUT="5s")
    for task, r in run_every_task(project).items():
        assert "Traceback" not in r.stdout + r.stderr, (task, r.stderr[-2000:])
        assert r.returncode == plain[task], (task, r.stdout[-600:], r.stderr[-600:])
        assert "warning: environment variable MIGRAKIT_LOCK_TIMOUT is not a migrakit setting and is ignored; " \
            "did you mean MIGRAKIT_LOCK_TIMEOUT?" in r.stderr, (task, r.stderr)
        assert "warning: environment variable MIGRAKIT_VERSION is not a migrakit setting" in r.stderr, task
