from migrakit.migration import Migration, drizzle_hash
from migrakit.planner import EDITED, SKIPPED_BY_DRIZZLE, UNKNOWN_ROW, TrackingRow, drizzle_would_apply, plan


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
