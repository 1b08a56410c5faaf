"""db.consolidate on a copy of the corpus case mail0-zero: 25 of its 26 migrations become one Mode 2 file."""

import json
import shutil

import psycopg
import pytest

from migrakit.db.connect import server
from migrakit.db.inspect import schema_diff as schema
from migrakit.errors import DriftError
from migrakit.sources.config import load_settings
from migrakit.workflows.consolidate import consolidate
from migrakit.workflows.migrate import migrate
from migrakit.workflows.status import status
from tests.fixtures.pg import dump_schema

pytestmark = pytest.mark.corpus

FIRST, LAST = "0001_greedy_darkhawk", "0025_nervous_paper_doll"


@pytest.fixture(scope="module")
def project(tmp_path_factory, corpus_dir, pg_server_url):
    """A project whose migrations/ is mail0-zero with 0001-0025 consolidated (once for the module), plus an
    untouched copy of the folder in originals/."""
    root = tmp_path_factory.mktemp("mail0")
    source = corpus_dir / "mail0-zero" / "migrations"
    shutil.copytree(source, root / "migrations")
    shutil.copytree(source, root / "originals" / "migrations")
    report = consolidate(load_settings(root, env={}, database_url=pg_server_url), from_tag=FIRST, to_tag=LAST, yes=True)
    assert report.written and "schema diff is empty" in report.proof
    return root, report


def settings_for(root, db_url, originals=False):
    if originals:
        return load_settings(root, env={}, database_url=db_url, migrations_dir=str(root / "originals" / "migrations"),
                             consolidated_dir=str(root / "originals" / "none"))  # fmt: skip
    return load_settings(root, env={}, database_url=db_url)


def rows(url):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id").fetchall()


def test_consolidated_folder_stays_valid_for_drizzle_kit(project, corpus_dir):
    root, report = project
    journal = json.loads((root / "migrations" / "meta" / "_journal.json").read_text())
    assert [e["tag"] for e in journal["entries"]] == ["0000_fine_steel_serpent"]
    assert sorted(p.name for p in (root / "migrations").glob("*.sql")) == ["0000_fine_steel_serpent.sql", "0025_far_echo.sql"]
    snapshots = sorted(p.name for p in (root / "migrations" / "meta").glob("*_snapshot.json"))
    assert snapshots == ["0000_snapshot.json"]
    # drizzle-kit diffs against the last snapshot by file name: it must hold the schema after 0025
    original_latest = (corpus_dir / "mail0-zero" / "migrations" / "meta" / "0025_snapshot.json").read_bytes()
    assert (root / "migrations" / "meta" / snapshots[-1]).read_bytes() == original_latest
    [sql] = (root / "migrations-consolidated").glob("*.sql")
    assert sql.stem == report.plan.stem and (root / "migrations-consolidated" / f"{sql.stem}.toml").is_file()
    text = sql.read_text()
    for m in report.plan.replaced:
        assert f"-- >>> {m.tag} (sha256 {m.hash})" in text


def test_fresh_database_gets_the_originals_schema_with_one_row_for_the_consolidation(project, db_url, pg_server_url, pg_bin):
    root, report = project
    applied = migrate(settings_for(root, db_url)).applied
    assert applied == ["0000_fine_steel_serpent", report.plan.stem]
    assert [c for _, c in rows(db_url)] == [1738890788092, 1746566491575]  # the consolidation's `when` = 0025's
    with server.shadow_database(pg_server_url, "mk_originals") as originals:
        migrate(settings_for(root, originals, originals=True))
        assert len(rows(originals)) == 26
        assert schema.diff_statements(originals, db_url) == []
        assert dump_schema(originals, pg_bin) == dump_schema(db_url, pg_bin)


def test_database_that_ran_the_originals_accepts_the_consolidation_without_rerunning(project, db_url, pg_bin):
    root, report = project
    migrate(settings_for(root, db_url, originals=True))
    before = dump_schema(db_url, pg_bin)
    result = migrate(settings_for(root, db_url))
    assert result.applied == [] and result.recorded == [report.plan.stem]
    assert dump_schema(db_url, pg_bin) == before  # nothing ran
    assert rows(db_url)[-1] == (report.plan.migration.hash, 1746566491575)
    assert status(settings_for(root, db_url)).plan.problems == ()


def test_database_that_ran_only_some_of_the_originals_refuses(project, db_url, tmp_path):
    root, _ = project
    partial = tmp_path / "partial"
    shutil.copytree(root / "originals" / "migrations", partial)
    journal = json.loads((partial / "meta" / "_journal.json").read_text())
    journal["entries"] = journal["entries"][:11]  # 0000-0010 ran here, 0011-0025 did not
    (partial / "meta" / "_journal.json").write_text(json.dumps(journal, indent=2))
    migrate(load_settings(root, env={}, database_url=db_url, migrations_dir=str(partial), consolidated_dir=str(tmp_path / "none")))
    before = rows(db_url)
    with pytest.raises(DriftError) as info:
        migrate(settings_for(root, db_url))
    assert "ran only 10 of them" in info.value.message
    assert "not run: 0011_huge_newton_destine," in info.value.message
    assert rows(db_url) == before
