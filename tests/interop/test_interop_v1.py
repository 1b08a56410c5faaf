"""migrakit and Drizzle 1.0's own migrator (drizzle-orm 1.0.0-rc.5) agree on Drizzle 1.0 folders, and a
database migrated by Drizzle 0.x crosses to Drizzle 1.0 through migrakit without re-running anything."""

import json
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from migrakit.core.drizzle.naming import locale_key
from migrakit.core.drizzle.row_matching import plan_tracking_upgrade
from migrakit.db import tracking as tracking_table
from migrakit.errors import ConfirmationRequired
from migrakit.sources.config import load_settings
from migrakit.sources.folders import load_folder
from migrakit.workflows.bootstrap import bootstrap
from migrakit.workflows.migrate import migrate
from migrakit.workflows.status import status as run_status
from migrakit.workflows.upgrade_layout import upgrade_layout
from migrakit.workflows.upgrade_tracking import upgrade_tracking
from tests.interop.drizzle import NODE_DIR, drizzle_migrate, tracking_rows

pytestmark = pytest.mark.interop

V1_CASE = "reactive-resume-v1"


def settings_for(tmp_path: Path, db_url: str, folder: Path):
    return load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder))


def first_k_folders(folder: Path, k: int, dest: Path) -> Path:
    """A copy of the first k migration folders, in Drizzle's order (what a teammate had k commits ago)."""
    dest.mkdir()
    for m in load_folder(folder).migrations[:k]:
        shutil.copytree(folder / m.tag, dest / m.tag)
    return dest


def public_tables(db_url: str) -> set[str]:
    with psycopg.connect(db_url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


# ------------------------------------------------------------------------------- Drizzle 1.0 folders
def test_after_migrakit_drizzle1_applies_nothing(corpus_dir, db_url, tmp_path):
    folder = corpus_dir / V1_CASE / "migrations"
    assert migrate(settings_for(tmp_path, db_url, folder)).applied
    before = tracking_rows(db_url)
    assert drizzle_migrate(folder, db_url, major=1) == {"ok": True}
    assert tracking_rows(db_url) == before


def test_after_drizzle1_migrakit_finds_nothing_pending(corpus_dir, db_url, tmp_path):
    folder = corpus_dir / V1_CASE / "migrations"
    assert drizzle_migrate(folder, db_url, major=1) == {"ok": True}
    settings = settings_for(tmp_path, db_url, folder)
    status = run_status(settings)
    assert status.plan.pending == () and status.plan.problems == ()
    assert status.plan.tracking_upgrade is None
    assert migrate(settings).applied == []


@pytest.mark.parametrize("k", [1, 10])
def test_drizzle1_first_k_then_migrakit_equals_drizzles_full_run(k, corpus_dir, db_url, tmp_path):
    folder = corpus_dir / V1_CASE / "migrations"
    partial = first_k_folders(folder, k, tmp_path / "partial")
    assert drizzle_migrate(partial, db_url, major=1) == {"ok": True}
    assert len(tracking_rows(db_url)) == k
    applied = migrate(settings_for(tmp_path, db_url, folder)).applied
    expected = json.loads((corpus_dir / V1_CASE / "expected" / "tracking.json").read_text())
    assert applied == [r["name"] for r in expected[k:]]
    assert tracking_rows(db_url) == expected


def test_locale_order_matches_nodes_localecompare():
    names = [
        f"20250101000000_{a}{b}{c}"
        for a in ("a", "A", "b", "_", "-", "0", "z", "Z", ".")
        for b in ("", "a", "B", "_x", "-x", "1", " ")
        for c in ("", "c", "C")
    ]
    script = "const n = JSON.parse(process.argv[1]); n.sort((a, b) => a.localeCompare(b)); console.log(JSON.stringify(n));"
    out = subprocess.run(["node", "-e", script, json.dumps(names)], capture_output=True, text=True, check=True, cwd=NODE_DIR)
    assert sorted(names, key=locale_key) == json.loads(out.stdout)


def test_tracking_upgrade_matches_drizzle1s_own_upgrade(db_url, tmp_path):
    """Rows written by hand into a 0.x table, in every matching case; Drizzle 1.0 upgrades the table itself, and
    the names it writes are the ones migrakit's plan predicted."""
    folder = tmp_path / "migrations"
    bodies = {
        "20250101000000_lone": "SELECT 1;",  # row in its second, other hash (edited since)
        "20250102000000_twin_a": "SELECT 2;",  # two folders in one second: the hash decides
        "20250102000000_twin_b": "SELECT 3;",
        "20250103000000_moved": "SELECT 4;",  # no folder in the row's second: the hash decides
    }
    for name, body in bodies.items():
        (folder / name).mkdir(parents=True)
        (folder / name / "migration.sql").write_text(body)
    migrations = load_folder(folder).migrations
    by_name = {m.tag: m for m in migrations}
    rows = [
        ("f" * 64, by_name["20250101000000_lone"].when + 417),
        (by_name["20250102000000_twin_b"].hash, by_name["20250102000000_twin_b"].when + 5),
        (by_name["20250102000000_twin_a"].hash, by_name["20250102000000_twin_a"].when + 999),
        (by_name["20250103000000_moved"].hash, 1600000000123),
    ]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA drizzle")
        conn.execute("CREATE TABLE drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)")
        for h, created_at in rows:
            conn.execute("INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (%s, %s)", (h, created_at))
        predicted = plan_tracking_upgrade(tracking_table.read_rows(conn, "drizzle", "__drizzle_migrations"), migrations)
    assert predicted.possible and len(predicted.matches) == 4
    assert drizzle_migrate(folder, db_url, major=1) == {"ok": True}
    names = [r["name"] for r in tracking_rows(db_url)]
    assert names[:4] == [m.name for m in predicted.matches]
    assert names[4:] == []  # every folder got a row by the upgrade: Drizzle applied nothing


def test_a_row_matching_no_folder_stops_drizzle1_and_migrakit_alike(db_url, tmp_path, corpus_dir):
    folder = corpus_dir / V1_CASE / "migrations"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA drizzle")
        conn.execute("CREATE TABLE drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)")
        conn.execute("INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('abc', 1500000000000)")
    result = drizzle_migrate(folder, db_url, major=1)
    assert result["ok"] is False and "(ids: 1)" in result["message"]
    status = run_status(settings_for(tmp_path, db_url, folder))
    up = status.plan.tracking_upgrade
    assert [r.id for r in up.unmatched] == [1]
    assert status.plan.blocking and status.plan.drizzle_pending == ()


# ------------------------------------------------------------------- Drizzle 0.x -> Drizzle 1.0, across
def drizzle0_database_and_converted_folder(corpus_dir: Path, db_url: str, tmp_path: Path) -> tuple[Path, list[dict]]:
    folder = tmp_path / "migrations"
    shutil.copytree(corpus_dir / "vercel-ai-chatbot" / "migrations", folder)
    assert drizzle_migrate(folder, db_url, major=0) == {"ok": True}
    rows_0x = tracking_rows(db_url)
    assert upgrade_layout(load_settings(tmp_path, env={}, migrations_dir=str(folder)), yes=True).applied
    return folder, rows_0x


def test_drizzle0_database_converted_folder_then_migrakit_then_drizzle1(corpus_dir, db_url, tmp_path):
    folder, rows_0x = drizzle0_database_and_converted_folder(corpus_dir, db_url, tmp_path)
    settings = settings_for(tmp_path, db_url, folder)
    tables = public_tables(db_url)

    status = run_status(settings)  # shows the upgrade first, changes nothing
    assert status.plan.pending == () and status.plan.blocking == ()
    assert [q.kind for q in status.plan.problems] == ["tracking-upgrade"]
    assert len(status.plan.tracking_upgrade.matches) == len(rows_0x)
    with pytest.raises(ConfirmationRequired):  # a deploy does not alter the table unasked
        migrate(settings)
    assert tracking_rows(db_url) == rows_0x

    report = migrate(settings, upgrade_tracking=True)
    assert report.applied == []  # nothing re-runs
    assert public_tables(db_url) == tables
    upgraded = tracking_rows(db_url)
    names = [m.tag for m in load_folder(folder).migrations]
    assert upgraded == [{**r, "name": n, "applied_at_is_null": True} for r, n in zip(rows_0x, names)]

    assert drizzle_migrate(folder, db_url, major=1) == {"ok": True}
    assert tracking_rows(db_url) == upgraded  # Drizzle 1.0 applies nothing and adds no row


def test_migrakits_upgrade_equals_drizzle1s_own(corpus_dir, db_url, pg_server_url, tmp_path):
    """The same Drizzle 0.x database upgraded by Drizzle 1.0 itself gives the same rows."""
    from migrakit.db.connect import server

    folder, _ = drizzle0_database_and_converted_folder(corpus_dir, db_url, tmp_path / "a")
    assert upgrade_tracking(settings_for(tmp_path, db_url, folder), yes=True).applied
    ours = tracking_rows(db_url)

    other = server.create_database(pg_server_url, f"{db_url.rsplit('/', 1)[-1].split('?')[0]}_d1")
    try:
        folder_b, _ = drizzle0_database_and_converted_folder(corpus_dir, other, tmp_path / "b")
        assert drizzle_migrate(folder_b, other, major=1) == {"ok": True}
        assert tracking_rows(other) == ours
    finally:
        server.drop_database(pg_server_url, other.rsplit("/", 1)[-1].split("?")[0])


def test_new_folder_after_the_crossing_runs_once_for_both_migrators(corpus_dir, db_url, tmp_path):
    folder, rows_0x = drizzle0_database_and_converted_folder(corpus_dir, db_url, tmp_path)
    settings = settings_for(tmp_path, db_url, folder)
    migrate(settings, upgrade_tracking=True)
    new = folder / "20990101000000_add_notes"
    new.mkdir()
    (new / "migration.sql").write_text('CREATE TABLE "notes" ("id" serial PRIMARY KEY);')
    assert migrate(settings).applied == ["20990101000000_add_notes"]
    rows = tracking_rows(db_url)
    assert rows[-1] == {"id": len(rows_0x) + 1, "hash": rows[-1]["hash"], "created_at": "4070908800000",
                        "name": "20990101000000_add_notes", "applied_at_is_null": False}
    assert drizzle_migrate(folder, db_url, major=1) == {"ok": True}
    assert tracking_rows(db_url) == rows


def test_bootstrapped_legacy_rows_cross_to_drizzle1_too(corpus_dir, db_url, tmp_path):
    """A database with db.bootstrap's rows: Drizzle 1.0 alone would refuse the upgrade (those rows match no
    folder); migrakit names them after their files, and Drizzle 1.0 then finds a 1.0 table with nothing to do."""
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "001_init.sql").write_text("CREATE TABLE legacy_things (id int);\nCREATE TABLE legacy_more (id int);\n")
    folder = tmp_path / "migrations"
    shutil.copytree(corpus_dir / "vercel-ai-chatbot" / "migrations", folder)
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder), legacy_dir=str(legacy))
    assert bootstrap(settings).applied == ["001_init"]
    assert len(migrate(settings).applied) == 9
    assert upgrade_layout(settings, yes=True).applied

    report = upgrade_tracking(settings)
    assert [(m.name, m.how) for m in report.upgrade.matches][0] == ("001_init", "hash (migrakit file)")
    assert report.upgrade.possible and not report.applied
    assert migrate(settings, upgrade_tracking=True).applied == []
    rows = tracking_rows(db_url)
    assert [r["name"] for r in rows] == ["001_init", *(m.tag for m in load_folder(folder).migrations)]
    assert drizzle_migrate(folder, db_url, major=1) == {"ok": True}
    assert tracking_rows(db_url) == rows
