"""Matching 0.x tracking rows to Drizzle 1.0 folders exactly as Drizzle 1.0's upToV1 does, and how the planner
judges a v1 folder on a table that needs the upgrade. Pure."""

from migrakit.core.drizzle.naming import v1_when
from migrakit.core.drizzle.row_matching import BY_HASH, BY_TIME, BY_TIME_AND_HASH, plan_tracking_upgrade
from migrakit.core.migration import Migration, TrackingRow, drizzle_hash
from migrakit.core.plan.planner import DRIZZLE_WOULD_RERUN, TRACKING_UPGRADE, UNKNOWN_ROW, plan


def folder(name: str, text: str | None = None) -> Migration:
    text = text if text is not None else f"CREATE TABLE t_{name[15:]} (id int);"
    return Migration(tag=name, when=v1_when(name), path=f"migrations/{name}/migration.sql", text=text,
                     hash=drizzle_hash(text.encode()), name=name)


A = folder("20241010220702_keen_devos")
B = folder("20241029130923_sparkling_blue_marvel")
C = folder("20241104130026_wandering_riptide")


def row(i: int, m: Migration, created_at: int | None, name: str | None = None, hash: str | None = None) -> TrackingRow:
    return TrackingRow(id=i, hash=hash or m.hash, created_at=created_at, name=name)


def test_rows_match_by_the_second_of_their_millisecond_created_at():
    rows = [row(1, A, 1728598022383), row(2, B, 1730207363999), row(3, C, 1730725226313)]
    up = plan_tracking_upgrade(rows, [A, B, C])
    assert [(m.row.id, m.name, m.how) for m in up.matches] == [(1, A.name, BY_TIME), (2, B.name, BY_TIME), (3, C.name, BY_TIME)]
    assert up.possible and up.add_columns and up.unmatched == ()
    assert [r.name for r in up.rows_after()] == [A.name, B.name, C.name]


def test_a_lone_folder_in_that_second_matches_even_with_another_hash():
    # Drizzle does not compare hashes when one folder has the row's second: the file was edited since.
    up = plan_tracking_upgrade([row(1, A, 1728598022999, hash="f" * 64)], [A, B])
    assert [(m.name, m.how, m.hash_differs) for m in up.matches] == [(A.name, BY_TIME, True)]


def test_folders_sharing_a_second_are_told_apart_by_hash_without_falling_back():
    twin_a = folder("20241010220702_first")
    twin_b = folder("20241010220702_second")
    rows = [row(1, twin_b, 1728598022500), row(2, twin_a, 1728598022100), row(3, A, 1728598022700, hash=C.hash)]
    up = plan_tracking_upgrade(rows, [twin_a, twin_b, C])
    assert [(m.row.id, m.name, m.how) for m in up.matches] == [(1, twin_b.name, BY_TIME_AND_HASH), (2, twin_a.name, BY_TIME_AND_HASH)]
    # row 3 has C's hash, but its second has candidates and none has that hash: Drizzle does not look further
    assert [r.id for r in up.unmatched] == [3]
    assert not up.possible


def test_without_a_folder_in_that_second_the_hash_decides_and_the_last_folder_wins():
    same_text = "SELECT 1;"
    x, y = folder("20250101000000_x", same_text), folder("20250102000000_y", same_text)
    up = plan_tracking_upgrade([row(1, x, 1600000000123), row(2, A, None)], [y, x, A])
    assert [(m.row.id, m.name, m.how) for m in up.matches] == [(1, y.name, BY_HASH), (2, A.name, BY_HASH)]


def test_short_created_at_is_truncated_like_drizzles_string_slicing():
    epoch = folder("19700101000000_zero")
    up = plan_tracking_upgrade([row(1, epoch, 999, hash="0" * 64), row(2, epoch, -12, hash="1" * 64)], [epoch])
    assert [(m.row.id, m.how) for m in up.matches] == [(1, BY_TIME), (2, BY_TIME)]


def test_rows_matching_nothing_are_reported():
    up = plan_tracking_upgrade([row(1, A, A.when), row(7, A, 5, hash="e" * 64)], [A])
    assert [r.id for r in up.unmatched] == [7]
    assert [m.row.id for m in up.matches] == [1]


def test_on_a_v1_table_only_rows_without_a_name_are_named():
    rows = [row(1, A, A.when, name=A.name), row(2, B, 1730207363999)]
    up = plan_tracking_upgrade(rows, [A, B], table_v1=True)
    assert not up.add_columns
    assert [(m.row.id, m.name) for m in up.matches] == [(2, B.name)]
    assert [r.name for r in up.rows_after()] == [A.name, B.name]


def test_planner_judges_rows_as_they_read_after_the_upgrade():
    rows = [row(1, A, 1728598022383), row(2, B, 1730207363999)]
    up = plan_tracking_upgrade(rows, [A, B, C])
    p = plan([A, B, C], rows, layout="v1", upgrade=up)
    assert [m.tag for m, _ in p.applied] == [A.tag, B.tag]
    assert [m.tag for m in p.pending] == [C.tag]
    assert p.drizzle_pending == (C.tag,)  # Drizzle 1.0 upgrades first, then decides by name
    assert [q.kind for q in p.problems] == [TRACKING_UPGRADE]
    assert p.blocking == ()
    assert p.tracking_upgrade is up


def test_an_impossible_upgrade_blocks_and_drizzle_would_apply_nothing():
    rows = [row(1, A, 1728598022383), row(2, B, 42, hash="d" * 64)]
    up = plan_tracking_upgrade(rows, [A, B])
    p = plan([A, B], rows, layout="v1", upgrade=up)
    assert p.drizzle_pending == ()
    assert TRACKING_UPGRADE in [q.kind for q in p.blocking]
    assert UNKNOWN_ROW in [q.kind for q in p.problems]


def test_v1_row_without_name_or_with_another_name_means_drizzle_would_run_it_again():
    rows = [row(1, A, A.when, name=A.name), row(2, B, B.when, name=None), row(3, C, C.when, name="20241104130026_old_name")]
    p = plan([A, B, C], rows, layout="v1")
    assert p.pending == ()
    rerun = [q for q in p.problems if q.kind == DRIZZLE_WOULD_RERUN]
    assert [q.migration for q in rerun] == [B.tag, C.tag]
    assert "upgrade-tracking" in rerun[0].fix and "old_name" in rerun[1].fix
    assert not any(q.blocking for q in rerun)
    assert p.drizzle_pending == (B.tag, C.tag)


def test_rows_of_migrakits_own_files_are_named_after_drizzles_rule_fails():
    from migrakit.core.drizzle.row_matching import BY_OWN_FILE, own_file_names
    from migrakit.core.migration import CONSOLIDATED, LEGACY, Replaced

    legacy = Migration(tag="001_init", when=1, path="legacy/001_init.sql", text="SELECT 1;", hash="1" * 64, mode=LEGACY)
    replaced = Replaced(tag="0003_old", when=1700000000123, hash="3" * 64)
    consolidated = Migration(tag="20240101_big", when=1704067200000, path="c/20240101_big.sql", text="SELECT 2;",
                             hash="2" * 64, mode=CONSOLIDATED, replaces=(replaced,))
    rows = [TrackingRow(1, "1" * 64, 1), TrackingRow(2, "3" * 64, 1700000000123), TrackingRow(3, "2" * 64, 1704067200000),
            row(4, A, A.when)]
    up = plan_tracking_upgrade(rows, [A], own_files=own_file_names([legacy, consolidated]))
    assert up.possible
    assert [(m.row.id, m.name, m.how) for m in up.matches] == [
        (1, "001_init", BY_OWN_FILE),
        (2, "20231114221320_old", BY_OWN_FILE),  # as `drizzle-kit up` would have named its folder
        (3, "20240101_big", BY_OWN_FILE),
        (4, A.name, BY_TIME),
    ]


def test_an_own_file_row_in_a_folders_second_keeps_its_own_name():
    from migrakit.core.drizzle.row_matching import BY_OWN_FILE, own_file_names
    from migrakit.core.migration import CONSOLIDATED

    consolidated = Migration(tag="20241010220702_big", when=A.when + 500, path="c/big.sql", text="SELECT 2;",
                             hash="2" * 64, mode=CONSOLIDATED)
    rows = [TrackingRow(1, "2" * 64, A.when + 500), row(2, A, A.when + 900)]
    up = plan_tracking_upgrade(rows, [A], own_files=own_file_names([consolidated]))
    assert [(m.name, m.how) for m in up.matches] == [("20241010220702_big", BY_OWN_FILE), (A.name, BY_TIME)]
