"""`db.upgrade-layout`: a journal folder becomes Drizzle 1.0 folders as `drizzle-kit up` makes them."""

import hashlib
import json
import shutil

import pytest

from migrakit.core.drizzle.naming import v1_folder_name
from migrakit.errors import JournalError
from migrakit.sources.config import load_settings
from migrakit.sources.folders import JOURNAL, V1, load_folder
from migrakit.workflows.upgrade_layout import upgrade_layout
from tests.fixtures.folders import make_drizzle_folder


def snapshot_tree(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def settings_for(tmp_path, folder):
    return load_settings(tmp_path, env={}, migrations_dir=str(folder))


def test_folder_name_is_the_utc_second_of_when_and_the_tag_without_its_prefix():
    assert v1_folder_name(1728598022383, "0000_keen_devos") == "20241010220702_keen_devos"
    assert v1_folder_name(1749377672000, "20250608100932_AddIntegrationsTable") == "20250608101432_AddIntegrationsTable"
    assert v1_folder_name(1700000000000, "_custom_name") == "20231114221320_custom_name"  # prefix "none"
    assert v1_folder_name(1700000000000, "init") == "20231114221320_"  # no "_": drizzle-kit keeps an empty name


def test_corpus_folder_converts_with_bytes_and_hashes_unchanged(corpus_dir, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(corpus_dir / "vercel-ai-chatbot" / "migrations", folder)
    before = load_folder(folder)
    journal = json.loads((folder / "meta" / "_journal.json").read_text())
    old_files = snapshot_tree(folder)

    plan = upgrade_layout(settings_for(tmp_path, folder))
    assert not plan.applied and snapshot_tree(folder) == old_files  # the plan changes nothing
    assert len(plan.moves) == 9 and plan.notes == ()

    result = upgrade_layout(settings_for(tmp_path, folder), yes=True)
    assert result.applied
    after = load_folder(folder)
    assert after.layout == V1
    assert not (folder / "meta").exists()
    assert sorted(p.name for p in folder.iterdir()) == [m.tag for m in after.migrations]
    for entry, old, new in zip(journal["entries"], before.migrations, after.migrations):
        assert new.tag == v1_folder_name(entry["when"], entry["tag"])
        assert new.when == entry["when"] // 1000 * 1000
        assert new.hash == old.hash
        prefix = entry["tag"].split("_")[0]
        assert (folder / new.tag / "migration.sql").read_bytes() == old_files[f"{entry['tag']}.sql"]
        assert (folder / new.tag / "snapshot.json").read_bytes() == old_files[f"meta/{prefix}_snapshot.json"]


def test_files_not_in_the_journal_stay_and_a_missing_snapshot_is_reported(tmp_path):
    folder = make_drizzle_folder(tmp_path, [("0000_a", "SELECT 1;"), ("0001_b", "SELECT 2;")])
    (folder / "meta" / "0000_snapshot.json").write_text('{"id": "x"}')
    (folder / "0099_orphan.sql").write_text("SELECT 99;")
    result = upgrade_layout(settings_for(tmp_path, folder), yes=True)
    assert result.left_in_place == ("0099_orphan.sql",)
    assert (folder / "0099_orphan.sql").is_file()
    assert [n for n in result.notes if "0001_b" in n and "snapshot" in n]
    loaded = load_folder(folder)
    assert [m.text for m in loaded.migrations] == ["SELECT 1;", "SELECT 2;"]
    assert (folder / loaded.migrations[0].tag / "snapshot.json").read_text() == '{"id": "x"}'
    assert not (folder / loaded.migrations[1].tag / "snapshot.json").exists()


def test_two_entries_in_one_second_with_one_name_refuse_before_writing(tmp_path):
    folder = make_drizzle_folder(tmp_path, [("0000_same", "SELECT 1;"), ("0001_same", "SELECT 2;")], whens=[1700000000100, 1700000000900])
    before = snapshot_tree(folder)
    with pytest.raises(JournalError) as info:
        upgrade_layout(settings_for(tmp_path, folder), yes=True)
    assert "0001_same" in info.value.message and "later" in (info.value.fix or "")
    assert snapshot_tree(folder) == before
    assert load_folder(folder).layout == JOURNAL


def test_a_journal_order_that_name_order_changes_is_reported(corpus_dir, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(corpus_dir / "kan" / "migrations", folder)
    plan = upgrade_layout(settings_for(tmp_path, folder))
    assert any("new order" in n and "AddIntegrationsTable" in n for n in plan.notes)


def test_an_already_converted_folder_has_nothing_to_do(corpus_dir, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(corpus_dir / "reactive-resume-v1" / "migrations", folder)
    before = snapshot_tree(folder)
    result = upgrade_layout(settings_for(tmp_path, folder), yes=True)
    assert result.moves == () and result.done and not result.applied
    assert snapshot_tree(folder) == before


def test_hash_is_sha256_of_bytes_after_conversion(tmp_path):
    body = b"CREATE TABLE a (id int);\r\n--> statement-breakpoint\r\nSELECT 1;"
    folder = make_drizzle_folder(tmp_path, [("0000_crlf", body)])
    upgrade_layout(settings_for(tmp_path, folder), yes=True)
    assert load_folder(folder).migrations[0].hash == hashlib.sha256(body).hexdigest()
