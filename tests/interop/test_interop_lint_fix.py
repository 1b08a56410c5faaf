"""A folder db.lint --fix rewrote is a normal folder to Drizzle 0.x's own migrator: it applies the transactional
pieces (NOT VALID, VALIDATE, SET NOT NULL through a check) itself, and after migrakit ran the CONCURRENTLY pieces
(which Drizzle's one transaction cannot run) it finds nothing left to apply."""

import json
from pathlib import Path

import pytest

from migrakit.db.connect import server
from migrakit.db.inspect import schema_diff as schema
from migrakit.sources.config import load_settings
from migrakit.workflows import lint as lint_workflow
from migrakit.workflows.migrate import migrate
from tests.fixtures.folders import add_migration, add_v1_migration, make_drizzle_folder
from tests.fixtures.gitrepo import commit_all, new_project_repo
from tests.interop.drizzle import drizzle_migrate, tracking_rows

pytestmark = pytest.mark.interop

BASE = [("0000_users", "CREATE TABLE users (id int PRIMARY KEY, email text, age int);")]
TRANSACTIONAL = [
    ("0001_checks", "ALTER TABLE users ADD CONSTRAINT users_age_check CHECK (age >= 0);\n--> statement-breakpoint\n"
     "ALTER TABLE users ALTER COLUMN email SET NOT NULL;"),
    ("0002_nick", "ALTER TABLE users ADD COLUMN nick text;"),
]  # fmt: skip
CONCURRENT = [("0001_email_idx", "CREATE INDEX users_email_idx ON users (email);")]
BACKFILL = [("0001_token", 'ALTER TABLE "users" ADD COLUMN "token" uuid DEFAULT gen_random_uuid() NOT NULL;')]
SEQUENCED = {  # a serial and an identity column, each backfilled from a sequence by --fix
    "serial": [("0001_seq_no", 'ALTER TABLE "users" ADD COLUMN "seq_no" serial NOT NULL;')],
    "identity": [("0001_seq_no", 'ALTER TABLE "users" ADD COLUMN "seq_no" integer GENERATED ALWAYS AS IDENTITY;')],
}


def fixed_folder(tmp_path: Path, feature: list[tuple[str, str]], url: str, shadow: str) -> Path:
    repo = new_project_repo(tmp_path)
    folder = make_drizzle_folder(tmp_path, BASE)
    (folder / "meta" / "0000_snapshot.json").write_text(json.dumps({"id": "s0", "prevId": "none"}))
    commit_all(repo, "base")
    repo.git.checkout("-b", "feature")
    for tag, body in feature:
        add_migration(folder, tag, body)
    commit_all(repo, "feature")
    settings = load_settings(tmp_path, env={}, database_url=url, migrations_dir="migrations", shadow_url=shadow)
    migrate(settings, to="0000_users")
    with server.connect(url, autocommit=True) as conn:
        conn.execute(b"INSERT INTO users SELECT g, 'u' || g, g FROM generate_series(1, 20000) g; ANALYZE users")
    assert lint_workflow.fix(settings, yes=True).written
    return folder


def test_drizzle_applies_a_fixed_folder_and_gets_migrakits_schema(tmp_path, db_url, pg_server_url):
    folder = fixed_folder(tmp_path, TRANSACTIONAL, db_url, pg_server_url)
    with server.shadow_database(pg_server_url) as by_drizzle:
        assert drizzle_migrate(folder, by_drizzle, major=0) == {"ok": True}
        assert len(tracking_rows(by_drizzle)) == len(json.loads((folder / "meta" / "_journal.json").read_text())["entries"])
        migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder)))
        assert schema.diff_statements(db_url, by_drizzle) == []


def test_after_migrakit_ran_a_fixed_concurrent_index_drizzle_applies_nothing(tmp_path, db_url, pg_server_url):
    folder = fixed_folder(tmp_path, CONCURRENT, db_url, pg_server_url)
    assert (folder / "0001_email_idx.sql").read_text().startswith("CREATE INDEX CONCURRENTLY")
    applied = migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder))).applied
    assert applied == ["0001_email_idx"]
    before = tracking_rows(db_url)
    assert drizzle_migrate(folder, db_url, major=0) == {"ok": True}
    assert tracking_rows(db_url) == before


def test_after_migrakit_ran_a_fixed_batched_backfill_drizzle_applies_nothing(tmp_path, db_url, pg_server_url):
    folder = fixed_folder(tmp_path, BACKFILL, db_url, pg_server_url)
    assert (folder / "0002_token_2.sql").read_text().startswith("DO $migrakit$")
    migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder)))
    before = tracking_rows(db_url)
    assert drizzle_migrate(folder, db_url, major=0) == {"ok": True}
    assert tracking_rows(db_url) == before


def drizzle_on_rows(tmp_path, folder: Path, url: str, to: str) -> dict:
    """Drizzle's migrator on a database with 20,000 users, migrated by migrakit up to `to` (Drizzle's rows)."""
    settings = load_settings(tmp_path, env={}, database_url=url, migrations_dir=str(folder))
    migrate(settings, to="0000_users")
    with server.connect(url, autocommit=True) as conn:
        conn.execute(b"INSERT INTO users SELECT g, 'u' || g, g FROM generate_series(1, 20000) g; ANALYZE users")
    migrate(settings, to=to)
    return drizzle_migrate(folder, url, major=0)


def drizzle_applies_whole(tmp_path, folder: Path, url: str, shadow: str, query: str) -> tuple:
    """Drizzle's migrator applies the fixed `folder` to a shadow database with 20,000 users (one transaction, a
    tracking row per journal entry); migrakit applies it to `url` and gets the same schema. `query`'s row, read
    on Drizzle's database."""
    with server.shadow_database(shadow) as by_drizzle:
        assert drizzle_on_rows(tmp_path, folder, by_drizzle, "0000_users") == {"ok": True}
        with server.connect(by_drizzle, autocommit=True) as conn:
            row = conn.execute(query.encode()).fetchone()
        assert len(tracking_rows(by_drizzle)) == len(json.loads((folder / "meta" / "_journal.json").read_text())["entries"])
        migrate(load_settings(tmp_path, env={}, database_url=url, migrations_dir=str(folder)))
        assert schema.diff_statements(url, by_drizzle) == []
    return row


def test_drizzle_applies_the_batched_backfill_in_its_one_transaction(tmp_path, db_url, pg_server_url):
    """Inside Drizzle's transaction (which already wrote: the column's migration, its tracking row) the backfill
    runs its batches without COMMIT, the one transaction Drizzle gives every migration."""
    folder = fixed_folder(tmp_path, BACKFILL, db_url, pg_server_url)
    nulls, transactions = drizzle_applies_whole(tmp_path, folder, db_url, pg_server_url,
                                                "SELECT count(*) FILTER (WHERE token IS NULL), "
                                                "count(DISTINCT xmin::text) FROM users")  # fmt: skip
    assert nulls == 0 and transactions == 1


@pytest.mark.parametrize("kind", sorted(SEQUENCED))
def test_drizzle_applies_a_fixed_serial_or_identity_column_in_its_one_transaction(tmp_path, db_url, pg_server_url,
                                                                                   kind):  # fmt: skip
    """A serial written out (its sequence, the integer column owning it), an identity column added plain with a
    sequence of its own; each backfilled from the sequence, NOT NULL through a check (identity added last): Drizzle
    applies the pieces in its one transaction and gets the schema migrakit gets."""
    folder = fixed_folder(tmp_path, SEQUENCED[kind], db_url, pg_server_url)
    assert (folder / "0001_seq_no.sql").read_text().startswith("CREATE SEQUENCE users_seq_no_")
    nulls, distinct = drizzle_applies_whole(tmp_path, folder, db_url, pg_server_url,
                                            "SELECT count(*) FILTER (WHERE seq_no IS NULL), count(DISTINCT seq_no) "
                                            "FROM users")  # fmt: skip
    assert nulls == 0 and distinct == 20000


def test_the_backfill_first_in_drizzles_transaction_on_rows_fails_whole(tmp_path, db_url, pg_server_url):
    """The one case the backfill cannot tell Drizzle's transaction from its own: it is the first statement there
    (the column's migration was applied before) and the table has rows. Its COMMIT fails (2D000) and Drizzle rolls
    everything back: nothing half-done."""
    folder = fixed_folder(tmp_path, BACKFILL, db_url, pg_server_url)
    with server.shadow_database(pg_server_url) as by_drizzle:
        result = drizzle_on_rows(tmp_path, folder, by_drizzle, "0001_token")
        assert result["ok"] is False and result["sqlstate"] == "2D000"  # invalid transaction termination
        with server.connect(by_drizzle, autocommit=True) as conn:
            nulls = conn.execute("SELECT count(*) FROM users WHERE token IS NULL").fetchone()[0]
        assert nulls == 20000 and len(tracking_rows(by_drizzle)) == 2  # rolled back whole; migrakit's two rows


def fixed_v1_folder(tmp_path: Path, name: str, body: str, url: str, shadow: str):
    """A Drizzle 1.0 folder (users on main, `name` new on the branch) whose feature db.lint --fix rewrote, with users
    applied on `url`: (folder, settings)."""
    repo = new_project_repo(tmp_path)
    folder = tmp_path / "migrations"
    add_v1_migration(folder, "20250101000000_users", BASE[0][1], "s0", "none")
    commit_all(repo, "base")
    repo.git.checkout("-b", "feature")
    add_v1_migration(folder, name, body, "s1", "s0")
    commit_all(repo, "feature")
    settings = load_settings(tmp_path, env={}, database_url=url, migrations_dir="migrations", shadow_url=shadow)
    migrate(settings, to="20250101000000_users")
    assert lint_workflow.fix(settings, yes=True).written
    return folder, settings


def test_drizzle_v1_reads_a_fixed_v1_folder_after_migrakit_and_applies_nothing(tmp_path, db_url, pg_server_url):
    folder, settings = fixed_v1_folder(tmp_path, "20250102000000_checks", TRANSACTIONAL[0][1], db_url, pg_server_url)
    assert len(migrate(settings).applied) == 3  # the CHECK NOT VALID, its VALIDATE, SET NOT NULL through a check
    before = tracking_rows(db_url)
    assert drizzle_migrate(folder, db_url, major=1) == {"ok": True}
    assert tracking_rows(db_url) == before


def test_drizzle_v1_applies_a_fixed_v1_backfill_on_rows_in_its_one_transaction(tmp_path, db_url, pg_server_url):
    folder, settings = fixed_v1_folder(tmp_path, "20250102000000_token", BACKFILL[0][1], db_url, pg_server_url)
    with server.shadow_database(pg_server_url) as by_drizzle:
        on_drizzle = settings.with_overrides(database_url=by_drizzle)
        migrate(on_drizzle, to="20250101000000_users")
        with server.connect(by_drizzle, autocommit=True) as conn:
            conn.execute(b"INSERT INTO users SELECT g, 'u' || g, g FROM generate_series(1, 20000) g")
        assert drizzle_migrate(folder, by_drizzle, major=1) == {"ok": True}
        with server.connect(by_drizzle, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM users WHERE token IS NULL").fetchone()[0] == 0
        assert len(tracking_rows(by_drizzle)) == 6  # users, then the column, backfill, check, validate, not null
        migrate(settings)
        assert schema.diff_statements(db_url, by_drizzle) == []


TS_USERS = """
import { integer, pgTable, serial, text } from "drizzle-orm/pg-core";
export const users = pgTable("users", { id: serial("id").primaryKey(), name: text("name") });
"""
TS_ORDERS = TS_USERS + """
export const orders = pgTable("orders", { id: serial("id").primaryKey(), userId: integer("user_id") });
"""
TS_ORDERS_FK = TS_USERS + """
export const orders = pgTable("orders", { id: serial("id").primaryKey(),
  userId: integer("user_id").references(() => users.id) });
"""
TS_ORDERS_FK_NOTE = TS_ORDERS_FK.replace('name: text("name")', 'name: text("name"), note: text("note")')


def test_drizzle_kit_generates_on_from_a_fixed_folder(tmp_path, db_url, pg_server_url):
    """drizzle-kit's own foreign key, split by --fix (NOT VALID, then VALIDATE in a migration of its own): the next
    `drizzle-kit generate` sees no change, then numbers the next migration after the pieces."""
    from migrakit.workflows import generate
    from tests.interop.drizzle import NODE_DIR

    (tmp_path / "node_modules").symlink_to(NODE_DIR / "node_modules")
    (tmp_path / "drizzle.config.ts").write_text(
        'import { defineConfig } from "drizzle-kit";\n'
        'export default defineConfig({ dialect: "postgresql", schema: "./schema.ts", out: "./migrations" });\n'
    )
    repo = new_project_repo(tmp_path)
    (tmp_path / ".gitignore").write_text("node_modules\n")
    settings = load_settings(tmp_path, env={}, database_url=db_url, shadow_url=pg_server_url)
    config = tmp_path / "drizzle.config.ts"
    (tmp_path / "schema.ts").write_text(TS_ORDERS)
    assert generate.with_drizzle_kit(settings, "init", config).tag == "0000_init"
    commit_all(repo, "base")
    repo.git.checkout("-b", "feature")
    (tmp_path / "schema.ts").write_text(TS_ORDERS_FK)
    assert generate.with_drizzle_kit(settings, "orders_fk", config).tag == "0001_orders_fk"
    commit_all(repo, "feature")
    migrate(settings, to="0000_init")
    with server.connect(db_url, autocommit=True) as conn:
        conn.execute(b"INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, 20000) g; "
                     b"INSERT INTO orders (user_id) SELECT g FROM generate_series(1, 20000) g; ANALYZE")  # fmt: skip
    report = lint_workflow.fix(settings, yes=True)
    assert [m.tags for m in report.fixed] == [["0001_orders_fk", "0002_orders_fk_2"]]
    unchanged = generate.with_drizzle_kit(settings, None, config)
    assert unchanged.tag is None  # drizzle-kit read the chain of snapshots: nothing to generate
    (tmp_path / "schema.ts").write_text(TS_ORDERS_FK_NOTE)
    assert generate.with_drizzle_kit(settings, "note", config).tag == "0003_note"
    assert migrate(settings).applied == ["0001_orders_fk", "0002_orders_fk_2", "0003_note"]
    before = tracking_rows(db_url)
    assert drizzle_migrate(tmp_path / "migrations", db_url, major=0) == {"ok": True}
    assert tracking_rows(db_url) == before
