"""Migrations that need contrib extensions (uuid-ossp, pgcrypto, btree_gin) apply on a server that has them.

Stock pgserver ships only plpgsql and vector, so there this is skipped; `.ci/run` runs the integration tests a
second time against Debian's PostgreSQL with contrib (scripts/test-server.sh), where it must run.
"""

import os

import psycopg
import pytest

from migrakit import runner
from migrakit.config import load_settings
from tests.fixtures.folders import make_drizzle_folder

EXTENSIONS = ("uuid-ossp", "pgcrypto", "btree_gin")


def available(db_url):
    with psycopg.connect(db_url) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM pg_available_extensions WHERE name = ANY(%s)", (list(EXTENSIONS),))}


def test_contrib_extension_migrations_apply(tmp_path, db_url):
    missing = sorted(set(EXTENSIONS) - available(db_url))
    if missing:
        if os.environ.get("MIGRAKIT_TEST_DATABASE_URL"):
            pytest.fail(f"MIGRAKIT_TEST_DATABASE_URL points at a server without {', '.join(missing)}: install postgresql-contrib")
        pytest.skip(f"the embedded server lacks {', '.join(missing)} (stock pgserver); .ci/run proves this on Debian's PostgreSQL")
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
    report = runner.migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder)))
    assert report.applied == ["0000_extensions", "0001_accounts", "0002_seed"]
    with psycopg.connect(db_url) as conn:
        installed = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
        assert set(EXTENSIONS) <= installed
        row = conn.execute("SELECT id::text, password = crypt('s3cret', password) FROM accounts").fetchone()
        assert row is not None and len(row[0]) == 36 and row[1] is True
        assert conn.execute("SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE relname = 'accounts_plan_gin'").fetchone() == ("gin",)
