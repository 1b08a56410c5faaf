"""Journal write/read round trip on generated journals (hypothesis): what drizzle-kit writes is read and
rendered back byte for byte, and what migrakit writes reads back as the same journal."""

import json
from pathlib import PurePosixPath

from hypothesis import given, settings
from hypothesis import strategies as st

from migrakit.core.drizzle.journal import Journal, parse_journal, render_journal

# drizzle-kit's tags name files of the folder: no NUL, nothing absolute or climbing out with `..` (refused, exit 2:
# tests/unit/test_journal.py)
tags = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30).filter(
    lambda t: not t.startswith("/") and ".." not in PurePosixPath(t).parts
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=10))


@st.composite
def drizzle_journals(draw):
    """A journal as a dict in drizzle-kit's key order, with the odd things real folders hold: old `pg`
    dialect, versions 5-7, gaps in idx, `when` going back, non-ASCII tags, keys drizzle-kit never wrote."""
    names = draw(st.lists(tags, unique=True, max_size=8))
    entries = []
    for i, tag in enumerate(names):
        entry = {
            "idx": draw(st.sampled_from([i, i + 1, i * 3])),
            "version": draw(st.sampled_from(["5", "6", "7"])),
            "when": draw(st.integers(0, 2**53)),
            "tag": tag,
            "breakpoints": draw(st.booleans()),
        }
        entry.update(draw(st.dictionaries(st.sampled_from(["note", "author", "x-y"]), json_scalars, max_size=2)))
        entries.append(entry)
    journal = {"version": draw(st.sampled_from(["5", "7"])), "dialect": draw(st.sampled_from(["postgresql", "pg"])), "entries": entries}
    journal.update(draw(st.dictionaries(st.sampled_from(["_meta", "comment"]), json_scalars, max_size=1)))
    return journal


@settings(max_examples=100, deadline=None)
@given(drizzle_journals(), st.sampled_from(["", "\n", "\n\n", "  \n"]))
def test_what_drizzle_kit_writes_renders_back_byte_for_byte(data, trailing):
    text = json.dumps(data, indent=2, ensure_ascii=False) + trailing  # JSON.stringify(journal, null, 2)
    journal = parse_journal(text)
    assert render_journal(journal) == text
    assert [e.tag for e in journal.entries] == [e["tag"] for e in data["entries"]]
    assert [e.when for e in journal.entries] == [e["when"] for e in data["entries"]]


@settings(max_examples=100, deadline=None)
@given(drizzle_journals(), st.lists(st.tuples(tags, st.integers(0, 2**53), st.booleans()), max_size=4))
def test_appending_entries_reads_back_as_the_same_journal(data, new):
    journal = parse_journal(json.dumps(data, indent=2, ensure_ascii=False))
    known = {e.tag for e in journal.entries}
    for tag, when, breakpoints in new:
        if tag not in known:
            journal = journal.with_entry(tag, when, breakpoints)
            known.add(tag)
    again = parse_journal(render_journal(journal))
    assert again == journal
    assert render_journal(again) == render_journal(journal)
    if len(journal.entries) > len(data["entries"]) and data["entries"]:
        first_new = journal.entries[len(data["entries"])]
        assert first_new.idx == data["entries"][-1]["idx"] + 1  # numbered as drizzle-kit numbers it


@settings(max_examples=100, deadline=None)
@given(st.lists(tags, unique=True, max_size=6))
def test_removing_entries_keeps_the_rest_in_order(names):
    journal = Journal()
    for i, tag in enumerate(names):
        journal = journal.with_entry(tag, 1_700_000_000_000 + i)
    dropped = set(names[::2])
    kept = parse_journal(render_journal(journal.without(dropped)))
    assert [e.tag for e in kept.entries] == [t for t in names if t not in dropped]
