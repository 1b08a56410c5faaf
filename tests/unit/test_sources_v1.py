"""Reading Drizzle 1.0 folders: Drizzle's order (localeCompare), its created_at rule (Date.UTC), its hash."""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrakit.core.drizzle.naming import locale_key, v1_sorted, v1_when
from migrakit.errors import JournalError
from migrakit.sources.folders import V1, detect_layout, load_folder
from tests.fixtures.folders import make_drizzle_folder


def write_v1(root, names_and_bodies):
    folder = root / "migrations"
    for name, body in names_and_bodies:
        (folder / name).mkdir(parents=True)
        (folder / name / "migration.sql").write_bytes(body.encode() if isinstance(body, str) else body)
        (folder / name / "snapshot.json").write_text("{}")
    return folder


def test_when_is_date_utc_of_the_prefix_in_whole_seconds():
    assert v1_when("20260114102228_peaceful_pestilence") == 1768386148000  # corpus reactive-resume-v1, row 1
    assert v1_when("19700101000000_x") == 0


def test_when_overflows_and_two_digit_years_as_date_utc_does():
    assert v1_when("20251301000000_x") == v1_when("20260101000000_x")  # month 13
    assert v1_when("20260300000000_x") == v1_when("20260228000000_x")  # day 0
    assert v1_when("00991231235959_x") == v1_when("19991231235959_x")  # Date.UTC(99, ...) is 1999


def test_locale_order_is_nodes_for_ascii():
    # the order `arr.sort((a, b) => a.localeCompare(b))` prints in node 20 (ICU root); see the interop test
    names = ["ab", "Ab", "aB", "AB", "a_b", "a-b", "a b", "a.b", "a1", "a", "A", "_a", "-a"]
    assert sorted(names, key=locale_key) == ["_a", "-a", "a", "A", "a b", "a_b", "a-b", "a.b", "a1", "ab", "aB", "Ab", "AB"]


_stamps = st.sampled_from(["20240101000000", "20240101000001", "20231231235959", "20240101000010"])
_v1_names = st.builds(
    lambda stamp, rest: f"{stamp}_{rest}", _stamps, st.text(alphabet="aAbB_-.1 é\u00c9\x01", max_size=6)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_v1_names, st.text(alphabet="0123456789_aB٣", max_size=16)), max_size=12))
def test_v1_sorted_is_the_locale_order_keyed_only_where_stamps_tie(names):
    """v1_sorted keys only names that share a 14-digit prefix; the order is sorted(key=locale_key)'s, ties
    (names whose keys are equal) included, also with names that are no Drizzle 1.0 folder name."""
    assert v1_sorted(names) == sorted(names, key=locale_key)


def test_folders_sort_by_locale_not_by_code_point(tmp_path):
    folder = write_v1(
        tmp_path,
        [("20250101000000_Zeta", "SELECT 1;"), ("20250101000000_alpha", "SELECT 2;"), ("20241231235959_last_year", "SELECT 3;")],
    )
    loaded = load_folder(folder)
    assert loaded.layout == V1
    # code-point order would put "Zeta" (Z = 0x5A) before "alpha" (a = 0x61)
    assert [m.tag for m in loaded.migrations] == ["20241231235959_last_year", "20250101000000_alpha", "20250101000000_Zeta"]
    first = loaded.migrations[0]
    assert (first.name, first.when, first.hash) == (first.tag, v1_when(first.tag), hashlib.sha256(b"SELECT 3;").hexdigest())


def test_hash_is_of_the_raw_bytes(tmp_path):
    body = b"\xef\xbb\xbfCREATE TABLE a (id int);\r\n"
    folder = write_v1(tmp_path, [("20250101000000_bom_crlf", body)])
    assert load_folder(folder).migrations[0].hash == hashlib.sha256(body).hexdigest()


def test_folders_without_migration_sql_are_ignored_like_drizzle(tmp_path):
    folder = write_v1(tmp_path, [("20250101000000_a", "SELECT 1;")])
    (folder / "20250102000000_only_snapshot").mkdir()
    (folder / "20250102000000_only_snapshot" / "snapshot.json").write_text("{}")
    assert [m.tag for m in load_folder(folder).migrations] == ["20250101000000_a"]


def test_non_ascii_names_sharing_a_second_are_flagged(tmp_path):
    folder = write_v1(tmp_path, [("20250101000000_äpfel", "SELECT 1;"), ("20250101000000_zebra", "SELECT 2;")])
    assert any("non-ASCII" in w for w in load_folder(folder).warnings)


def test_journal_and_v1_folders_together_are_an_error(tmp_path):
    folder = make_drizzle_folder(tmp_path, [("0000_a", "SELECT 1;")])
    write_v1(tmp_path, [("20250101000000_b", "SELECT 2;")])
    with pytest.raises(JournalError) as info:
        detect_layout(folder)
    assert "upgrade-layout" in (info.value.fix or "")
