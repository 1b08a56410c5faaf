import json
from pathlib import Path

import pytest

from migrakit.core.drizzle.journal import journal_warnings, parse_journal, render_journal
from migrakit.errors import ConfigError, JournalError


def corpus_journals(corpus: Path) -> list[Path]:
    return sorted(corpus.glob("*/migrations/meta/_journal.json"))


def test_unchanged_corpus_journals_render_byte_for_byte(corpus_dir):
    journals = corpus_journals(corpus_dir)
    assert len(journals) >= 4
    for path in journals:
        text = path.read_text(encoding="utf-8")
        assert render_journal(parse_journal(text)) == text, path


def test_new_entry_is_numbered_and_rendered_like_drizzle_kit():
    j = parse_journal(json.dumps({"version": "5", "dialect": "pg", "entries": []}, indent=2))
    j = j.with_entry("0000_first", 1700000000000).with_entry("0001_second", 1700000001000)
    text = render_journal(j)
    assert json.loads(text)["entries"][1] == {
        "idx": 1, "version": "5", "when": 1700000001000, "tag": "0001_second", "breakpoints": True,
    }
    assert '"entries": [\n    {\n      "idx": 0,' in text
    assert not text.endswith("\n")


def test_old_pg_dialect_and_idx_gaps_are_accepted_with_a_warning():
    text = json.dumps({"version": "5", "dialect": "pg", "entries": [
        {"idx": 0, "version": "5", "when": 10, "tag": "0000_a", "breakpoints": True},
        {"idx": 2, "version": "6", "when": 5, "tag": "0002_b", "breakpoints": True},
    ]}, indent=2)
    j = parse_journal(text)
    assert [e.tag for e in j.entries] == ["0000_a", "0002_b"]
    notes = journal_warnings(j)
    assert any("idx jumps from 0 to 2" in n for n in notes)
    assert any("not after" in n for n in notes)


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"version": "7", "entries": [', "not valid JSON"),
        ('{"version": "7"}', "no `entries` list"),
        ('{"dialect": "mysql", "entries": []}', "dialect is 'mysql'"),
        ('{"entries": [{"idx": 0, "tag": "0000_a"}]}', "lacks a string `tag` or an integer `when`"),
        (
            '{"entries": [{"idx": 0, "when": 1, "tag": "0000_a"}, {"idx": 1, "when": 2, "tag": "0000_a"}]}',
            "appears twice",
        ),
    ],
)
def test_broken_journals_name_the_file_and_the_fix(text, expected):
    with pytest.raises(JournalError) as info:
        parse_journal(text, "migrations/meta/_journal.json")
    assert expected in info.value.message
    assert info.value.file == "migrations/meta/_journal.json"
    assert info.value.fix


def test_truncated_journal_reports_line_and_column():
    with pytest.raises(JournalError) as info:
        parse_journal('{\n  "version": "7",\n  "entries": [\n    {"idx": 0,')
    assert info.value.line == 4


def journal_with(**entry) -> str:
    return json.dumps({"version": "7", "dialect": "postgresql", "entries": [{"idx": 0, "version": "7", "when": 1, "tag": "0000_a", "breakpoints": True, **entry}]})


@pytest.mark.parametrize(
    "tag, problem",
    [
        ("../outside/x", "climbs out of the migrations folder"),
        ("a/../../x", "climbs out of the migrations folder"),
        ("/etc/passwd", "is an absolute path"),
        ("0000_a\x00.sql", "holds a NUL byte"),
    ],
)
def test_a_tag_that_names_no_file_of_the_folder_is_refused_with_exit_2(tag, problem):
    """Issue 25.7: Drizzle reads <folder>/<tag>.sql; a hostile journal must not make migrakit run SQL from
    outside the folder, nor pass a NUL to the file system."""
    with pytest.raises(ConfigError) as info:
        parse_journal(journal_with(tag=tag), "migrations/meta/_journal.json")
    err = info.value
    assert err.exit_code == 2 and problem in err.message and err.migration == tag
    assert err.file == "migrations/meta/_journal.json" and "restore the journal" in (err.fix or "")


def test_tags_that_stay_inside_the_folder_are_read_as_drizzle_reads_them():
    assert [e.tag for e in parse_journal(journal_with(tag="sub/0000_a")).entries] == ["sub/0000_a"]
    assert [e.tag for e in parse_journal(journal_with(tag="a/../0000_a")).entries] == ["a/../0000_a"]


def test_a_journal_nested_200000_levels_deep_is_exit_2_not_a_recursion_error():
    text = '{"entries": [], "x": ' + "[" * 200_000 + "]" * 200_000 + "}"
    with pytest.raises(ConfigError) as info:
        parse_journal(text, "migrations/meta/_journal.json")
    assert info.value.exit_code == 2 and "nested too deep" in info.value.message
    assert info.value.file == "migrations/meta/_journal.json"


@pytest.mark.parametrize("when", [10**30, -(2**63) - 1, 2**63])
def test_a_when_outside_bigint_is_blamed_on_the_journal_entry(when):
    """Issue 25.10: not "bigint out of range ... fix the statement" from the server at the tracking row."""
    with pytest.raises(JournalError) as info:
        parse_journal(journal_with(when=when), "migrations/meta/_journal.json")
    err = info.value
    assert "journal entry #0 (0000_a): `when`" in err.message and "bigint" in err.message
    assert err.migration == "0000_a" and err.file == "migrations/meta/_journal.json" and err.state == "nothing was run"
    assert parse_journal(journal_with(when=2**63 - 1)).entries[0].when == 2**63 - 1
