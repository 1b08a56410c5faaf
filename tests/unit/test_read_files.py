"""Reading migration files (sources/folders.py): the bytes as written at any size, a folder where a file belongs
named in the error (tasks/_run turns it into exit 1 with the path), and the "holds no SQL" check's shortcut."""

from __future__ import annotations

import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrakit.core.postgres.statements import BREAKPOINT, keyword_head
from migrakit.errors import ConfigError
from migrakit.sources.folders import _holds_sql, journal_present, load_folder
from migrakit.sources.reading import read_bytes, read_sql


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


def refused(path, shown="migrations/0000_a.sql", call=None, **kw) -> ConfigError:
    """read_sql (or `call`) on a hostile path, in a thread: a FIFO that blocked would fail the test after 10 s,
    not hang it (the test then opens the FIFO's other end to let the thread go)."""
    outcome: list[BaseException | object] = []

    def read() -> None:
        try:
            outcome.append(call() if call else read_sql(path, shown, "0000_a", **kw))
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # the reader's open returns; then it reads EOF
        reader.join(10)
        raise AssertionError(f"reading {path} blocked")
    assert outcome and isinstance(outcome[0], ConfigError), outcome
    assert outcome[0].exit_code == 2 and outcome[0].file == shown and "nothing was run" in (outcome[0].state or "")
    return outcome[0]


def test_a_fifo_is_refused_with_exit_2_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "0000_a.sql")
    err = refused(tmp_path / "0000_a.sql")
    assert err.message == "migrations/0000_a.sql is a FIFO (named pipe), not a regular file"
    assert "restore it from git" in (err.fix or "")


def test_a_symlink_to_a_device_is_refused_before_reading_a_byte(tmp_path):
    (tmp_path / "0000_a.sql").symlink_to("/dev/zero")
    assert "is a character device, not a regular file" in refused(tmp_path / "0000_a.sql").message


def test_a_symlink_loop_is_refused_with_exit_2(tmp_path):
    (tmp_path / "0000_a.sql").symlink_to(tmp_path / "0000_b.sql")
    (tmp_path / "0000_b.sql").symlink_to(tmp_path / "0000_a.sql")
    assert "is a symlink loop" in refused(tmp_path / "0000_a.sql").message


def test_a_symlink_to_a_regular_file_is_read(tmp_path):
    (tmp_path / "real.sql").write_text("CREATE TABLE a (id int);")
    (tmp_path / "0000_a.sql").symlink_to(tmp_path / "real.sql")
    assert read_sql(tmp_path / "0000_a.sql", "0000_a.sql", "0000_a")[0] == "CREATE TABLE a (id int);"


@pytest.mark.parametrize("size", [100, 70_000])
def test_a_file_over_the_size_bound_is_refused_before_it_is_read(tmp_path, size):
    (tmp_path / "0000_a.sql").write_bytes(b"x" * size)
    assert read_sql(tmp_path / "0000_a.sql", "s", "0000_a", max_bytes=size)[0] == "x" * size
    err = refused(tmp_path / "0000_a.sql", max_bytes=size - 1)
    assert "larger than max_file_mb" in err.message and "raise max_file_mb" in (err.fix or "")


@pytest.mark.parametrize("make", ["fifo", "loop", "dangling", "directory"])
def test_a_journal_that_is_not_a_regular_file_is_exit_2_not_no_journal(tmp_path, make):
    journal = tmp_path / "migrations" / "meta" / "_journal.json"
    journal.parent.mkdir(parents=True)
    if make == "fifo":
        os.mkfifo(journal)
    elif make == "loop":
        journal.symlink_to(journal)
    elif make == "dangling":
        journal.symlink_to(tmp_path / "gone.json")
    else:
        journal.mkdir()
    with pytest.raises(ConfigError) as info:
        load_folder(tmp_path / "migrations", tmp_path)
    assert info.value.exit_code == 2 and info.value.file == "migrations/meta/_journal.json"
    assert "not a regular file" in info.value.message
    assert journal_present(tmp_path) is False  # nothing there at all: no journal


def test_a_v1_migration_that_is_a_fifo_is_refused_not_skipped(tmp_path):
    folder = tmp_path / "migrations" / "20250101000000_a"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "migration.sql")
    with pytest.raises(ConfigError) as info:
        load_folder(tmp_path / "migrations", tmp_path)
    assert info.value.file == "migrations/20250101000000_a/migration.sql" and "FIFO" in info.value.message


def test_a_fleet_targets_file_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    from migrakit.sources.config import load_settings
    from migrakit.workflows.fleet import load_targets

    os.mkfifo(tmp_path / "fleet.toml")
    settings = load_settings(tmp_path, env={})
    err = refused(tmp_path / "fleet.toml", str(tmp_path / "fleet.toml"),
                  call=lambda: load_targets(settings, str(tmp_path / "fleet.toml"), None))  # fmt: skip
    assert "is a FIFO (named pipe), not a regular file" in err.message
