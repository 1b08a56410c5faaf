"""Down files (db.rollback): `<tag>.down.sql` beside `<tag>.sql` (journal), `down.sql` in a Drizzle 1.0 folder;
loaded beside their migration, split at the same breakpoints, never orphans, carried by db.upgrade-layout."""

from migrakit.sources.folders import JOURNAL, V1, down_path, load_folder
from migrakit.workflows.upgrade_layout import apply_layout_upgrade, plan_layout_upgrade
from tests.fixtures.folders import make_drizzle_folder

UP = 'CREATE TABLE "a" ("id" int);\n--> statement-breakpoint\nCREATE INDEX "a_id" ON "a" ("id");'
DOWN = 'DROP INDEX "a_id";\n--> statement-breakpoint\nDROP TABLE "a";'


def test_journal_down_file_is_loaded_with_its_statements(tmp_path):
    folder = make_drizzle_folder(tmp_path, [("0000_a", UP), ("0001_b", "SELECT 1;")])
    (folder / "0000_a.down.sql").write_text(DOWN)
    loaded = load_folder(folder)
    first, second = loaded.migrations
    assert first.down is not None and second.down is None
    assert first.down.path.endswith("0000_a.down.sql")
    assert [s.text.rstrip(';') for s in first.down.statements] == ['DROP INDEX "a_id"', 'DROP TABLE "a"']
    assert first.down.statements[1].line == 3
    assert down_path(folder, first, JOURNAL) == folder / "0000_a.down.sql"


def test_down_files_are_not_orphans_but_a_down_without_its_migration_is(tmp_path):
    folder = make_drizzle_folder(tmp_path, [("0000_a", UP)])
    (folder / "0000_a.down.sql").write_text(DOWN)
    (folder / "0009_gone.down.sql").write_text(DOWN)
    loaded = load_folder(folder)
    assert loaded.orphans == ("0009_gone.down.sql",)
    assert not any("0000_a.down.sql" in w for w in loaded.warnings)


def test_down_file_does_not_change_the_migrations_hash(tmp_path):
    folder = make_drizzle_folder(tmp_path, [("0000_a", UP)])
    before = load_folder(folder).migrations[0].hash
    (folder / "0000_a.down.sql").write_text(DOWN)
    assert load_folder(folder).migrations[0].hash == before


def test_v1_down_file_is_loaded_from_the_migrations_folder(tmp_path):
    folder = tmp_path / "migrations" / "20250101000000_a"
    folder.mkdir(parents=True)
    (folder / "migration.sql").write_text(UP)
    (folder / "down.sql").write_text(DOWN)
    loaded = load_folder(tmp_path / "migrations")
    assert loaded.layout == V1
    m = loaded.migrations[0]
    assert m.down is not None and len(m.down.statements) == 2
    assert down_path(tmp_path / "migrations", m, V1) == folder / "down.sql"


def test_upgrade_layout_carries_down_files_into_down_sql(tmp_path):
    folder = make_drizzle_folder(tmp_path, [("0000_a", UP), ("0001_b", "SELECT 1;")])
    (folder / "0000_a.down.sql").write_text(DOWN)
    up = plan_layout_upgrade(load_folder(folder))
    apply_layout_upgrade(up)
    assert not (folder / "0000_a.down.sql").exists()
    loaded = load_folder(folder)
    assert loaded.layout == V1
    assert loaded.migrations[0].down is not None and loaded.migrations[0].down.text == DOWN
    assert loaded.migrations[1].down is None
