from migrakit.core.migration import Migration, TrackingRow, drizzle_hash
from migrakit.core.plan.planner import (
    DUPLICATE_ROWS,
    EDITED,
    SKIPPED_BY_DRIZZLE,
    UNKNOWN_ROW,
    drizzle_would_apply,
    plan,
)


def mig(tag: str, when: int, text: str | None = None) -> Migration:
    text = text if text is not None else f"CREATE TABLE {tag} (id int);"
    return Migration(tag=tag, when=when, path=f"migrations/{tag}.sql", text=text, hash=drizzle_hash(text.encode()))


def row(i: int, m: Migration, created_at: int | None = None) -> TrackingRow:
    return TrackingRow(id=i, hash=m.hash, created_at=m.when if created_at is None else created_at)


def test_fresh_database_has_everything_pending():
    ms = [mig("a", 1), mig("b", 2)]
    p = plan(ms, [])
    assert [m.tag for m in p.pending] == ["a", "b"]
    assert p.problems == ()
    assert p.drizzle_pending == ("a", "b")


def test_applied_is_decided_by_hash_not_by_time():
    a, b, c = mig("a", 1), mig("b", 2), mig("c", 3)
    p = plan([a, b, c], [row(1, a), row(2, b)])
    assert [m.tag for m, _ in p.applied] == ["a", "b"]
    assert [m.tag for m in p.pending] == ["c"]
    assert p.drizzle_pending == ("c",)


def test_merged_branch_migration_older_than_newest_row_is_reported_and_blocks():
    a, late, early = mig("a", 1), mig("late", 30), mig("early", 20)
    p = plan([a, early, late], [row(1, a), row(2, late)])
    assert [m.tag for m in p.pending] == ["early"]
    assert [q.kind for q in p.blocking] == [SKIPPED_BY_DRIZZLE]
    assert p.drizzle_pending == ()  # Drizzle would skip it forever
    assert plan([a, early, late], [row(1, a), row(2, late)], out_of_order=True).blocking == ()


def test_edited_applied_migration_is_drift_and_not_pending():
    a = mig("a", 1)
    edited = mig("a", 1, "CREATE TABLE a (id bigint);")
    p = plan([edited], [row(1, a)])
    assert p.pending == ()
    assert [q.kind for q in p.problems] == [EDITED]
    assert p.state_of(edited) == "edited"


def test_row_without_file_is_reported_but_does_not_block():
    a, gone = mig("a", 1), mig("gone", 2)
    p = plan([a], [row(1, a), row(2, gone)])
    assert [q.kind for q in p.problems] == [UNKNOWN_ROW]
    assert p.blocking == ()
    assert p.unknown_rows[0].id == 2


def test_identical_files_need_one_row_each():
    text = "-- Custom SQL migration file, put your code below! --"
    a, b = mig("a", 1, text), mig("b", 2, text)
    p = plan([a, b], [row(1, a)])
    assert [m.tag for m in p.pending] == ["b"]


def test_drizzle_null_created_at_sorts_first_and_means_apply_everything():
    a = mig("a", 5)
    rows = [TrackingRow(1, "x" * 64, None)]
    assert drizzle_would_apply([a], rows, layout="journal") == ("a",)


def test_v1_layout_decides_like_drizzle_by_name():
    a = Migration("20240101000000_a", 1704067200000, "p", "x", drizzle_hash(b"x"), name="20240101000000_a")
    assert drizzle_would_apply([a], [TrackingRow(1, "other", 1, "20240101000000_a")], layout="v1") == ()


def test_duplicated_rows_are_reported_as_duplicates_of_their_migration_not_as_unknown():
    a, b = mig("a", 1), mig("b", 2)
    rows = [row(1, a), row(2, a), row(3, b), row(4, a), row(5, b)]  # racing deploys wrote a 3x, b 2x
    p = plan([a, b], rows, table='"drizzle"."__drizzle_migrations"')
    assert [m.tag for m, _ in p.applied] == ["a", "b"]
    assert [(m.tag, r.id) for m, r in p.applied] == [("a", 1), ("b", 3)]  # the oldest row records each
    assert p.pending == ()
    assert p.unknown_rows == ()
    assert UNKNOWN_ROW not in [q.kind for q in p.problems]
    assert [(tag, r.id) for tag, r in p.duplicate_rows] == [("a", 2), ("a", 4), ("b", 5)]
    dups = [q for q in p.problems if q.kind == DUPLICATE_ROWS]
    assert [q.migration for q in dups] == ["a", "b"]
    assert not any(q.blocking for q in dups)  # neither migrakit nor Drizzle runs anything differently
    assert "3 tracking rows" in dups[0].message and "written more than once" in dups[0].message
    assert dups[0].fix.endswith(
        f"DELETE FROM \"drizzle\".\"__drizzle_migrations\" WHERE id IN (2, 4) AND hash = '{a.hash}';"
    )
    assert "keeping the oldest (id 1)" in dups[0].fix
    assert "check migrations/a.sql's data" in dups[0].fix
    assert p.drizzle_pending == ()


def test_duplicate_fix_keeps_the_oldest_row_even_when_a_newer_one_matched_created_at():
    a = mig("a", 10)
    p = plan([a], [row(1, a, created_at=9), row(2, a)])  # row 2 has created_at == when, row 1 is older
    (q,) = [q for q in p.problems if q.kind == DUPLICATE_ROWS]
    assert "keeping the oldest (id 1)" in q.fix and "WHERE id IN (2)" in q.fix


def test_identical_files_with_one_row_each_are_not_duplicates():
    text = "-- Custom SQL migration file, put your code below! --"
    a, b = mig("a", 1, text), mig("b", 2, text)
    p = plan([a, b], [row(1, a), row(2, b)])
    assert p.duplicate_rows == () and p.problems == ()
    p3 = plan([a, b], [row(1, a), row(2, b), row(3, b)])
    assert [r.id for _, r in p3.duplicate_rows] == [3]


def test_a_duplicate_of_a_row_without_file_stays_unknown():
    a, gone = mig("a", 1), mig("gone", 2)
    p = plan([a], [row(1, a), row(2, gone), row(3, gone)])
    assert p.duplicate_rows == ()
    assert [r.id for r in p.unknown_rows] == [2, 3]


def test_duplicate_table_name_is_quoted_as_given():
    a = mig("a", 1)
    p = plan([a], [row(1, a), row(2, a)], table='"my ""schema"""."t"')
    assert 'DELETE FROM "my ""schema"""."t" WHERE id IN (2)' in p.problems[0].fix


def test_legacy_files_are_planned_without_drizzle_rules():
    """db.bootstrap plans legacy files with layout=None (no Drizzle folder): pending in file order whatever the
    tracking table's newest created_at, and nothing Drizzle would run."""
    from dataclasses import replace

    from migrakit.core.migration import Layout, Mode

    first, late = (replace(mig(t, w), mode=Mode.LEGACY) for t, w in (("schema", 1), ("seed", 2)))
    newer = mig("drizzle_0000", 5)
    for layout in (None, Layout.JOURNAL):
        p = plan([first, late], [row(1, newer)], layout=layout, known_hashes={newer.hash})
        assert [m.tag for m in p.pending] == ["schema", "seed"] and p.drizzle_pending == ()
        skipped = [q.migration for q in p.problems if q.kind == SKIPPED_BY_DRIZZLE]
        assert skipped == ([] if layout is None else ["schema", "seed"])
    assert Mode.LEGACY == "legacy" and f"{Layout.V1}" == "v1"  # StrEnum: JSON and text show the bare value
