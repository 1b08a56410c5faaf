"""Reading migration files (sources/folders.py): the bytes as written at any size, a folder where a file belongs
named in the error (tasks/_run turns it into exit 1 with the path), and the "holds no SQL" check's shortcut."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrakit.core.postgres.statements import BREAKPOINT, keyword_head
from migrakit.sources.folders import _holds_sql, read_bytes, read_sql


@pytest.mark.parametrize("size", [0, 1, 65_535, 65_536, 65_537, 300_000])
def test_files_are_read_byte_for_byte_at_any_size(tmp_path, size):
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path = tmp_path / "0000_a.sql"
    path.write_bytes(data)
    assert read_bytes(path) == data == read_bytes(str(path))


def test_a_folder_where_a_migration_file_belongs_is_named_in_the_error(tmp_path):
    (tmp_path / "0000_a.sql").mkdir()
    with pytest.raises(IsADirectoryError) as info:
        read_sql(tmp_path / "0000_a.sql", "0000_a.sql", "0000_a")
    assert info.value.filename == str(tmp_path / "0000_a.sql")
    with pytest.raises(FileNotFoundError) as missing:
        read_sql(str(tmp_path / "0001_b.sql"), "0001_b.sql", "0001_b")
    assert missing.value.filename == str(tmp_path / "0001_b.sql")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["", " ", "\n", "\t", "\x1c", "\u3000", "\ufeff", "-", "--", "-- c\n", "/", "/*", "*/",
                                 "/* c */", BREAKPOINT, "SELECT 1;", "x", ";"]), max_size=8).map("".join))  # fmt: skip
def test_holds_sql_is_keyword_head_of_the_text_without_breakpoints(text):
    assert _holds_sql(text) == bool(keyword_head(text.replace(BREAKPOINT, "")).strip())
