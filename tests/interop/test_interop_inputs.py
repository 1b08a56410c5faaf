"""Odd but valid inputs (BOM, CRLF, empty files, empty chunks): migrakit's hash and rows equal Drizzle's own."""

import hashlib
import json
import shutil
import subprocess

import pytest

from migrakit.db.connect import server
from migrakit.errors import MigrakitError
from migrakit.sources.config import load_settings
from migrakit.sources.load import load_sources
from migrakit.workflows.migrate import migrate
from tests.fixtures.folders import make_drizzle_folder
from tests.interop.drizzle import NODE_DIR, drizzle_migrate, tracking_rows

pytestmark = pytest.mark.interop

BOM_CRLF = b"\xef\xbb\xbfCREATE TABLE a (id int);\r\n--> statement-breakpoint\r\nCREATE TABLE b (id int);\r\n"
CRLF = b"CREATE TABLE c (\r\n  id int\r\n);\r\n--> statement-breakpoint\r\nCREATE INDEX c_id ON c (id);\r\n"
ACCEPTED = [
    ("0000_crlf", CRLF),
    ("0001_custom", b"-- Custom SQL migration file, put your code below! --"),
    ("0002_empty", b""),
    ("0003_chunks", b"CREATE TABLE d ();\n--> statement-breakpoint\n--> statement-breakpoint\n\nCREATE TABLE e ();\n--> statement-breakpoint\n"),
    ("0004_utf8", "-- café ☕\nCREATE TABLE \"naïve\" (\"ключ\" int);\n".encode()),
]


def drizzle_hashes(folder):
    """The hashes Drizzle's own `readMigrationFiles` computes for a journal folder."""
    script = (
        "const { readMigrationFiles } = require('drizzle-orm/migrator');"
        "console.log(JSON.stringify(readMigrationFiles({ migrationsFolder: process.argv[1] }).map((m) => m.hash)));"
    )
    out = subprocess.run([shutil.which("node"), "-e", script, str(folder)], cwd=NODE_DIR, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def migrakit_migrate(tmp_path, url, folder, allow_empty=False):
    settings = load_settings(tmp_path, env={}, database_url=url, migrations_dir=str(folder))
    return migrate(settings, allow_empty=allow_empty).applied


def test_hashes_equal_drizzles_for_bom_crlf_empty_and_non_ascii_files(tmp_path):
    folder = make_drizzle_folder(tmp_path, [("0000_bom", BOM_CRLF), *ACCEPTED])
    ours = [m.hash for m in load_sources(load_settings(tmp_path, env={}, migrations_dir=str(folder))).migrations]
    assert ours == drizzle_hashes(folder)
    assert ours == [hashlib.sha256(body).hexdigest() for _, body in [("0000_bom", BOM_CRLF), *ACCEPTED]]


def test_drizzle_and_migrakit_write_the_same_rows_for_crlf_empty_files_and_empty_chunks(tmp_path, pg_server_url, db_url):
    folder = make_drizzle_folder(tmp_path, ACCEPTED)
    assert drizzle_migrate(folder, db_url) == {"ok": True}
    with server.shadow_database(pg_server_url, "mk_interop") as ours:
        with pytest.raises(MigrakitError, match="0001_custom holds no SQL statement"):  # the template: refused unless asked
            migrakit_migrate(tmp_path, ours, folder)
        # --allow-empty: recorded exactly as Drizzle records them
        assert migrakit_migrate(tmp_path, ours, folder, allow_empty=True) == [tag for tag, _ in ACCEPTED]
        assert tracking_rows(ours) == tracking_rows(db_url)
        assert drizzle_migrate(folder, ours) == {"ok": True}  # Drizzle finds nothing left to do after migrakit
        assert tracking_rows(ours) == tracking_rows(db_url)


def test_a_bom_file_drizzle_cannot_run_is_run_by_migrakit_and_then_left_alone_by_drizzle(tmp_path, db_url, pg_server_url):
    folder = make_drizzle_folder(tmp_path, [("0000_bom", BOM_CRLF)])
    with server.shadow_database(pg_server_url, "mk_interop") as drizzle_db:
        failed = drizzle_migrate(folder, drizzle_db)
        assert failed["ok"] is False and failed["sqlstate"] == "42601" and "\ufeff" in failed["cause"]
    assert migrakit_migrate(tmp_path, db_url, folder) == ["0000_bom"]
    rows = tracking_rows(db_url)
    assert [r["hash"] for r in rows] == [hashlib.sha256(BOM_CRLF).hexdigest()]
    assert drizzle_migrate(folder, db_url) == {"ok": True}
    assert tracking_rows(db_url) == rows


COMMENT_ONLY = [
    ("0000_orders", "CREATE TABLE orders (id int, payload jsonb);"),
    ("0001_payload_v2", "-- no DDL needed: the change is in the JSONB payload\n-- (the app reads both shapes)\n"),
    ("0002_index", "CREATE INDEX orders_id ON orders (id);"),
    ("0003_noop", "/* kept for the journal's numbering */\n--> statement-breakpoint\n-- nothing\n"),
    ("0004_empty", ""),
]


def test_comment_only_migrations_are_recorded_as_drizzle_records_them_without_allow_empty(tmp_path, pg_server_url, db_url):
    """Issue 23.5: real folders hold deliberate no-ops; the default mode records them (no --allow-empty), with
    the same rows Drizzle writes, and Drizzle then finds nothing left to do."""
    folder = make_drizzle_folder(tmp_path, COMMENT_ONLY)
    assert drizzle_migrate(folder, db_url) == {"ok": True}
    with server.shadow_database(pg_server_url, "mk_interop") as ours:
        assert migrakit_migrate(tmp_path, ours, folder) == [tag for tag, _ in COMMENT_ONLY]
        assert tracking_rows(ours) == tracking_rows(db_url)
        assert drizzle_migrate(folder, ours) == {"ok": True}
        assert tracking_rows(ours) == tracking_rows(db_url)
