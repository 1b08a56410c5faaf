"""Mode 2 rows never make Drizzle 0.x's own migrator re-run or skip a journal migration."""

import shutil

import pytest

from migrakit.sources.config import load_settings
from migrakit.workflows.bootstrap import bootstrap
from migrakit.workflows.consolidate import consolidate
from migrakit.workflows.migrate import migrate
from tests.fixtures.folders import add_migration, make_drizzle_folder
from tests.interop.drizzle import drizzle_migrate, tracking_rows

pytestmark = pytest.mark.interop


def test_after_bootstrap_drizzle_applies_nothing(corpus_dir, db_url, tmp_path):
    case = corpus_dir / "legacy-two-systems"
    settings = load_settings(
        tmp_path, env={}, database_url=db_url, migrations_dir=str(case / "migrations"), legacy_dir=str(case / "legacy")
    )
    migrate(settings)
    assert len(bootstrap(settings).applied) == 5
    before = tracking_rows(db_url)
    assert drizzle_migrate(case / "migrations", db_url, major=0) == {"ok": True}
    assert tracking_rows(db_url) == before


def test_after_adopting_hand_run_legacy_files_drizzle_applies_nothing(corpus_dir, db_url, pg_server_url, tmp_path):
    import psycopg

    case = corpus_dir / "legacy-two-systems"
    settings = load_settings(
        tmp_path, env={}, database_url=db_url, migrations_dir=str(case / "migrations"), legacy_dir=str(case / "legacy"),
        shadow_url=pg_server_url,
    )  # fmt: skip
    migrate(settings)
    with psycopg.connect(db_url, autocommit=True) as conn:  # 022, 024-026 run by hand, one transaction each
        for name in ["022_drop_old_audit", "024_audit_trigger", "025_do_block_backfill", "026_reporting_function"]:
            with conn.transaction():
                conn.execute((case / "legacy" / f"{name}.sql").read_bytes())
    report = bootstrap(settings, adopt=["022,024-026"], only=["023"])
    assert report.applied == ["023_settings_jsonb"] and len(report.recorded) == 4
    before = tracking_rows(db_url)
    assert drizzle_migrate(case / "migrations", db_url, major=0) == {"ok": True}
    assert tracking_rows(db_url) == before


def test_a_journal_migration_added_after_bootstrap_is_applied_by_drizzle(corpus_dir, db_url, tmp_path):
    case = corpus_dir / "legacy-two-systems"
    folder = tmp_path / "migrations"
    shutil.copytree(case / "migrations", folder)
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder), legacy_dir=str(case / "legacy"))
    migrate(settings)
    bootstrap(settings)
    add_migration(folder, "0003_projects_note", "ALTER TABLE projects ADD COLUMN note text;", when=1737540000000)
    before = tracking_rows(db_url)
    assert drizzle_migrate(folder, db_url, major=0) == {"ok": True}
    after = tracking_rows(db_url)
    assert after[: len(before)] == before and [r["created_at"] for r in after[len(before):]] == ["1737540000000"]


def test_drizzle_agrees_after_a_consolidation_on_old_and_fresh_databases(db_url, pg_server_url, tmp_path):
    from migrakit.db.connect import server

    folder = make_drizzle_folder(tmp_path, [(f"{i:04d}_m{i}", f"CREATE TABLE t{i} (id int);") for i in range(5)])
    settings = load_settings(tmp_path, env={}, database_url=db_url)
    migrate(settings)  # a developer's database: the originals ran
    consolidate(settings, from_tag="0002_m2", to_tag="0004_m4", yes=True)
    assert migrate(settings).recorded  # recorded without running
    before = tracking_rows(db_url)
    assert drizzle_migrate(folder, db_url, major=0) == {"ok": True}
    assert tracking_rows(db_url) == before

    with server.shadow_database(pg_server_url, "mk_fresh") as fresh:  # a fresh database: 0000, 0001, the consolidation
        migrate(load_settings(tmp_path, env={}, database_url=fresh))
        add_migration(folder, "0005_next", "CREATE TABLE t5 (id int);", when=1_700_000_005_000)
        assert drizzle_migrate(folder, fresh, major=0) == {"ok": True}
        assert [r["created_at"] for r in tracking_rows(fresh)][-1] == str(1_700_000_005_000)  # only 0005 ran
        assert len(tracking_rows(fresh)) == 4
