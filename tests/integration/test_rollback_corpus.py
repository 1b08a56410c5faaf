"""Rollback on every real folder of the corpus: `db.generate-down --all` writes a proven down for each migration,
`db.rollback --steps 5` leaves the tracking rows and the normalized schema of a database migrated `--to` the
migration before them, and migrating forward again gives the full schema back."""

import shutil
import uuid

import psycopg
import pytest

from migrakit.db.connect import server
from tests.fixtures.cli import run_in_process
from tests.fixtures.pg import dump_schema

FOLDERS = ["vercel-ai-chatbot", "mail0-zero", "kan", "reactive-resume-v1", "legacy-two-systems"]
BACK = 5
pytestmark = pytest.mark.corpus


def rows(url):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id").fetchall()


def has_uuid_ossp(url):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'uuid-ossp'").fetchone() is not None


def ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.slow
@pytest.mark.parametrize("name", FOLDERS)
def test_roll_back_the_last_five_of_a_real_folder(name, tmp_path, db_url, pg_server_url, pg_bin, corpus_dir):
    folder = tmp_path / "migrations"
    shutil.copytree(corpus_dir / name / "migrations", folder)
    common = ["--migrations-dir", str(folder), "--database-url", db_url]
    if name == "kan" and not has_uuid_ossp(db_url):
        # Drizzle's own migrator fails on this server (the corpus' expected/error.txt): so do the shadows, naming
        # the extension, and no down file is written. .ci/run rolls kan back on the second server, which has it.
        refused = run_in_process(["db.generate-down", "--all", *common, "--shadow-url", pg_server_url], cwd=tmp_path)
        assert refused.returncode == 1 and "uuid-ossp" in refused.stdout + refused.stderr, refused.stdout[-3000:]
        assert not list(folder.glob("*.down.sql"))
        return
    ok(run_in_process(["db.generate-down", "--all", *common, "--shadow-url", pg_server_url], cwd=tmp_path))
    from migrakit.sources.folders import load_folder

    tags = [m.tag for m in load_folder(folder).migrations]
    back = min(BACK, len(tags) - 1)  # a folder of 5 or fewer keeps its first migration: the reference is --to it
    assert all(m.down is not None for m in load_folder(folder).migrations)
    ok(run_in_process(["db.migrate", *common], cwd=tmp_path))
    full = dump_schema(db_url, pg_bin)
    ok(run_in_process(["db.rollback", "--steps", str(back), "--yes", "--allow-data-loss", *common], cwd=tmp_path))
    ref_name = f"mk_rb_{uuid.uuid4().hex[:8]}"
    reference = server.create_database(pg_server_url, ref_name)
    try:
        ok(run_in_process(["db.migrate", "--to", tags[-back - 1], "--migrations-dir", str(folder), "--database-url",
                           reference], cwd=tmp_path))  # fmt: skip
        assert rows(db_url) == rows(reference)
        assert dump_schema(db_url, pg_bin) == dump_schema(reference, pg_bin)
    finally:
        server.drop_database(pg_server_url, ref_name)
    ok(run_in_process(["db.migrate", *common], cwd=tmp_path))
    assert dump_schema(db_url, pg_bin) == full
