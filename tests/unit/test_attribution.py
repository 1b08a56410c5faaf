"""core.attribution: which file made an object, and is a file's effect present in a live schema."""

import pytest

from migrakit.core import attribution as a

T = ("tables", "t")
C = ("columns", "t", "c")
I = ("indexes", "i")
V = ("views", "v")

# snapshots of a shadow built file by file: before file 0, after file 0, after file 1, after file 2
SNAPS = [
    {},
    {T: "t1", C: "int"},  # file 0 creates table t with column c
    {T: "t1", C: "bigint", I: "i1"},  # file 1 widens c and creates index i
    {T: "t1", C: "bigint", I: "i1", V: "v1"},  # file 2 creates view v
]


def test_effect_lists_created_changed_and_dropped_objects():
    assert a.effect({T: 1, I: 2}, {T: 3, C: 4}) == {T: a.CHANGED, C: a.CREATED, I: a.DROPPED}


def test_made_by_is_the_last_file_that_touched_the_object():
    effects = a.effects(SNAPS)
    assert a.made_by(effects, T) == a.Maker(0, a.CREATED)
    assert a.made_by(effects, C) == a.Maker(1, a.CHANGED)
    assert a.made_by(effects, V) == a.Maker(2, a.CREATED)
    assert a.made_by(effects, ("tables", "nowhere")) is None


def test_a_file_is_present_when_every_object_it_touches_is_in_a_later_state():
    live = {T: "t1", C: "bigint", I: "i1"}  # files 0 and 1 ran, 2 did not
    assert a.prove(SNAPS, 0, live).verdict == a.PRESENT  # c is in the state file 1 left it: file 0 ran too
    assert a.prove(SNAPS, 1, live).verdict == a.PRESENT
    proof = a.prove(SNAPS, 2, live)
    assert proof.verdict == a.ABSENT and [o.key for o in proof.differing] == [V]


def test_a_partly_present_file_names_exactly_the_objects_that_differ():
    live = {T: "t1", C: "int", I: "i1"}  # file 1 created the index but c was never widened
    proof = a.prove(SNAPS, 1, live)
    assert proof.verdict == a.PARTIAL
    assert [(o.key, o.expected, o.actual) for o in proof.differing] == [(C, "bigint", "int")]


def test_a_changed_definition_is_not_present():
    assert a.prove(SNAPS, 2, {**SNAPS[3], V: "v-edited"}).verdict == a.ABSENT


def test_a_file_that_changes_no_object_cannot_be_proven():
    assert a.prove([{T: 1}, {T: 1}], 0, {T: 1}).verdict == a.NO_EFFECT


def test_a_dropped_object_must_be_gone():
    snaps = [{T: 1, I: 2}, {T: 1}]
    assert a.prove(snaps, 0, {T: 1}).verdict == a.PRESENT
    assert a.prove(snaps, 0, {T: 1, I: 2}).verdict == a.ABSENT


TAGS = ["022_drop_old_audit", "023_settings_jsonb", "024_audit_trigger", "025_do_block_backfill", "026_reporting_function"]


@pytest.mark.parametrize(
    "selectors, chosen",
    [
        (["023"], ["023_settings_jsonb"]),
        (["23"], ["023_settings_jsonb"]),
        (["022,024-026"], ["022_drop_old_audit", "024_audit_trigger", "025_do_block_backfill", "026_reporting_function"]),
        (["026", "022"], ["022_drop_old_audit", "026_reporting_function"]),
        (["024_audit_trigger.sql", "025_do_block_backfill"], ["024_audit_trigger", "025_do_block_backfill"]),
    ],
)
def test_selectors_name_files_by_number_range_tag_or_file_name(selectors, chosen):
    assert a.parse_selection(a.split_selectors(selectors), TAGS) == chosen


@pytest.mark.parametrize("selector", ["027", "030-040", "settings", "23_settings_jsonb"])
def test_a_selector_naming_no_file_is_an_error(selector):
    with pytest.raises(a.SelectionError) as info:
        a.parse_selection([selector], TAGS)
    assert info.value.selector == selector


def test_number_list_is_what_the_selectors_accept():
    tags = ["022_drop_old_audit", "024_audit_trigger"]
    assert a.number_list(tags) == "022,024"
    assert a.parse_selection(a.split_selectors(a.number_list(tags)), TAGS) == tags
    assert a.number_list(["a", "b"]) == "a,b"
