"""Mode 2 without a database: manifests, run order, the planner's replaced-migration rules, legacy files,
and the pure consolidation plan."""

import pytest

from migrakit.core.migration import CONSOLIDATED, STANDARD, Migration, Replaced, TrackingRow, drizzle_hash
from migrakit.core.plan.planner import REPLACED_PARTIAL, UNKNOWN_ROW, order_sequence, plan
from migrakit.errors import ConfigError, JournalError, MigrakitError
from migrakit.sources.consolidated import load_consolidated
from migrakit.sources.folders import load_folder
from migrakit.sources.legacy import load_legacy
from migrakit.workflows.consolidate import consolidated_text, plan_consolidation, snapshot_name
from tests.fixtures.folders import make_consolidation, make_drizzle_folder


def mig(tag, when, text=None, mode=STANDARD, replaces=()):
    text = text or f"CREATE TABLE t_{tag} (id int);"
    return Migration(tag=tag, when=when, path=f"{tag}.sql", text=text, hash=drizzle_hash(text.encode()), mode=mode, replaces=tuple(replaces))


def consolidation(tag, originals):
    return mig(tag, max(m.when for m in originals), "CREATE TABLE k (id int);", CONSOLIDATED,
               [Replaced(m.tag, m.when, m.hash) for m in originals])


def row(i, m):
    return TrackingRow(id=i, hash=m.hash, created_at=m.when)


def write_consolidation(folder, stem, text, when, replaces):
    make_consolidation(folder, stem, text, when, [(r.tag, r.when, r.hash) for r in replaces])


# --------------------------------------------------------------------------------------- manifests
def test_manifest_round_trip(tmp_path):
    replaces = [Replaced("0001_a", 10, "a" * 64), Replaced("0002_b", 20, "b" * 64)]
    write_consolidation(tmp_path / "c", "19700101000000_k", "CREATE TABLE k (id int);\n", 20, replaces)
    [m] = load_consolidated(tmp_path / "c", tmp_path)
    assert (m.tag, m.when, m.mode, m.replaces) == ("19700101000000_k", 20, CONSOLIDATED, tuple(replaces))
    assert m.hash == drizzle_hash(b"CREATE TABLE k (id int);\n")


def test_manifest_that_does_not_match_its_file_names_both_files(tmp_path):
    write_consolidation(tmp_path / "c", "k", "CREATE TABLE k (id int);\n", 20, [Replaced("0001_a", 10, "a" * 64)])
    (tmp_path / "c" / "k.sql").write_text("CREATE TABLE k (id bigint);\n")
    with pytest.raises(JournalError) as info:
        load_consolidated(tmp_path / "c", tmp_path)
    err = info.value
    assert "c/k.sql" in err.message and "c/k.toml" in err.message
    assert err.file == "c/k.toml"
    assert "git checkout" in err.fix


def test_consolidated_file_without_manifest_is_refused(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "k.sql").write_text("SELECT 1;")
    with pytest.raises(JournalError, match="has no manifest k.toml"):
        load_consolidated(tmp_path / "c", tmp_path)


def test_replaced_migration_still_in_the_journal_is_refused(tmp_path):
    write_consolidation(tmp_path / "c", "k", "SELECT 1;", 20, [Replaced("0001_a", 10, "a" * 64)])
    with pytest.raises(JournalError, match="still in the Mode 1 journal") as info:
        load_consolidated(tmp_path / "c", tmp_path, journal_tags=["0000_x", "0001_a"])
    assert "meta/_journal.json" in info.value.fix


def test_malformed_manifest_is_a_journal_error(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "k.sql").write_text("SELECT 1;")
    (tmp_path / "c" / "k.toml").write_text("format = 1\nfile = 'k.sql'\nwhen = 'soon'\n")
    with pytest.raises(JournalError, match="`when` \\(integer\\)"):
        load_consolidated(tmp_path / "c", tmp_path)


# ---------------------------------------------------------------------------------------- sequence
def test_consolidation_runs_before_the_first_later_mode1_migration():
    a, d, e = mig("0000_a", 1), mig("0003_d", 40), mig("0004_e", 50)
    k = consolidation("k", [mig("0001_b", 20), mig("0002_c", 30)])
    assert [m.tag for m in order_sequence([a, d, e], [k])] == ["0000_a", "k", "0003_d", "0004_e"]
    assert [m.tag for m in order_sequence([a], [k])] == ["0000_a", "k"]
    assert [m.tag for m in order_sequence([], [k])] == ["k"]


def test_mode1_journal_order_is_kept_even_when_when_is_not_monotonic():
    a, b, c = mig("0000_a", 10), mig("0001_b", 50), mig("0002_c", 30)
    k = consolidation("k", [mig("x", 40)])
    assert [m.tag for m in order_sequence([a, b, c], [k])] == ["0000_a", "k", "0001_b", "0002_c"]


# ----------------------------------------------------------------------------------------- planner
def test_consolidation_is_recorded_without_running_when_every_replaced_migration_ran():
    a, b, c = mig("0000_a", 1), mig("0001_b", 2), mig("0002_c", 3)
    k = consolidation("k", [b, c])
    p = plan([a, k], [row(1, a), row(2, b), row(3, c)])
    assert p.recorded_without_running == (k,)
    assert p.pending == ()
    assert p.problems == ()  # the replaced migrations' rows are explained, not unknown
    assert p.state_of(k) == "replaced-applied"


def test_consolidation_on_a_fresh_database_is_pending():
    b, c = mig("0001_b", 2), mig("0002_c", 3)
    k = consolidation("k", [b, c])
    p = plan([k], [])
    assert p.pending == (k,) and p.recorded_without_running == ()
    assert p.drizzle_pending == ()  # Drizzle's migrator never runs a Mode 2 file


def test_consolidation_with_only_some_replaced_migrations_applied_blocks_and_lists_them():
    b, c, d = mig("0001_b", 2), mig("0002_c", 3), mig("0003_d", 4)
    k = consolidation("k", [b, c, d])
    p = plan([k], [row(1, b)])
    [problem] = p.blocking
    assert problem.kind == REPLACED_PARTIAL
    assert "ran: 0001_b" in problem.message and "not run: 0002_c, 0003_d" in problem.message
    assert p.pending == () and p.state_of(k) == "replaced-partial"
    assert "git log" in problem.fix


def test_applied_consolidation_with_the_originals_rows_is_applied_and_nothing_is_unknown():
    b, c = mig("0001_b", 2), mig("0002_c", 3)
    k = consolidation("k", [b, c])
    p = plan([k], [row(1, b), row(2, c), TrackingRow(3, k.hash, k.when)])
    assert [m.tag for m, _ in p.applied] == ["k"]
    assert not [q for q in p.problems if q.kind == UNKNOWN_ROW]


def test_replaced_rows_need_one_row_each_even_with_identical_bytes():
    b, c = mig("0001_b", 2, "SELECT 1;"), mig("0002_c", 3, "SELECT 1;")
    k = consolidation("k", [b, c])
    p = plan([k], [row(1, b)])
    assert [q.kind for q in p.blocking] == [REPLACED_PARTIAL]


def test_known_hashes_are_not_unknown_rows():
    a = mig("0000_a", 1_700_000_000_000)
    legacy = TrackingRow(9, "f" * 64, 1)  # a bootstrap row: created_at = its position
    assert [q.kind for q in plan([a], [legacy]).problems] == [UNKNOWN_ROW]
    assert plan([a], [legacy], known_hashes={"f" * 64}).problems == ()


# ------------------------------------------------------------------------------------------ legacy
def test_legacy_files_run_in_number_order_with_their_position_as_created_at(tmp_path):
    for name in ("1000_c.sql", "022_b.sql", "9_a.sql", "zz_unnumbered.sql"):
        (tmp_path / name).write_text(f"-- {name}\nSELECT 1;")
    (tmp_path / "README.md").write_text("not sql")
    legacy = load_legacy(tmp_path, tmp_path)
    assert [(m.tag, m.when) for m in legacy] == [("9_a", 1), ("022_b", 2), ("1000_c", 3), ("zz_unnumbered", 4)]
    assert {m.mode for m in legacy} == {"legacy"}


def test_missing_legacy_folder_is_a_config_error_for_bootstrap(tmp_path):
    with pytest.raises(ConfigError, match="legacy_dir is not set"):
        load_legacy(None, tmp_path)
    assert load_legacy(tmp_path / "nope", tmp_path, required=False) == ()


def test_mode2_file_with_its_own_commit_is_refused_before_running():
    m = mig("022_x", 1, "BEGIN;\nCREATE TABLE x (id int);\nCOMMIT;\n", mode="legacy")
    with pytest.raises(MigrakitError, match="runs as one transaction") as info:
        m.check_runnable()
    assert (info.value.line, info.value.col) == (1, 1)
    assert "BEGIN/COMMIT" in info.value.fix


# ------------------------------------------------------------------------------------ consolidation
def folder_with(tmp_path, n=5, snapshots=True):
    folder = make_drizzle_folder(tmp_path, [(f"{i:04d}_m{i}", f"CREATE TABLE t{i} (id int);") for i in range(n)])
    if snapshots:
        for i in range(n):
            (folder / "meta" / f"{i:04d}_snapshot.json").write_text(f'{{"id": "{i}"}}')
    return load_folder(folder, tmp_path)


def test_consolidated_text_keeps_each_statement_under_its_tag_and_hash(tmp_path):
    f = folder_with(tmp_path, 2, snapshots=False)
    text = consolidated_text("k", f.migrations)
    for m in f.migrations:
        assert f"-- >>> {m.tag} (sha256 {m.hash})" in text
    assert text.index("CREATE TABLE t0 (id int);") < text.index("CREATE TABLE t1 (id int);")


def test_statement_ending_in_a_comment_gets_its_semicolon_on_a_new_line():
    m = mig("0000_a", 1, "SELECT 1 -- the answer\n")
    assert "SELECT 1 -- the answer\n;" in consolidated_text("k", [m])


def test_tail_consolidation_keeps_the_latest_snapshot_under_the_new_last_entry(tmp_path):
    f = folder_with(tmp_path)
    snaps = sorted(p.name for p in (f.path / "meta").glob("*_snapshot.json"))
    p = plan_consolidation(f, ["0002_m2", "0003_m3", "0004_m4"], consolidated_dir=tmp_path / "c", snapshots=snaps)
    assert p.when == f.migrations[4].when  # the newest replaced `when`
    assert p.snapshot_move == (f.path / "meta" / "0004_snapshot.json", f.path / "meta" / "0001_snapshot.json")
    assert sorted(x.name for x in p.delete) == ["0002_m2.sql", "0002_snapshot.json", "0003_m3.sql", "0003_snapshot.json", "0004_m4.sql"]
    assert '"0002_m2"' not in p.journal_text and '"0001_m1"' in p.journal_text
    assert p.sql_path.name == f"{p.stem}.sql" and p.stem.endswith("_consolidated")


def test_middle_consolidation_deletes_its_snapshots_and_keeps_the_latest(tmp_path):
    f = folder_with(tmp_path)
    snaps = sorted(p.name for p in (f.path / "meta").glob("*_snapshot.json"))
    p = plan_consolidation(f, ["0001_m1", "0002_m2"], consolidated_dir=tmp_path / "c", snapshots=snaps)
    assert p.snapshot_move is None
    assert {x.name for x in p.delete} == {"0001_m1.sql", "0002_m2.sql", "0001_snapshot.json", "0002_snapshot.json"}


def test_consolidation_must_be_one_unbroken_run(tmp_path):
    f = folder_with(tmp_path, snapshots=False)
    with pytest.raises(ConfigError, match="unbroken run"):
        plan_consolidation(f, ["0001_m1", "0003_m3"], consolidated_dir=tmp_path / "c")


def test_migration_that_runs_outside_a_transaction_cannot_be_consolidated(tmp_path):
    folder = make_drizzle_folder(
        tmp_path, [("0000_t", "CREATE TABLE t (id int);"), ("0001_idx", "CREATE INDEX CONCURRENTLY t_idx ON t (id);")]
    )
    f = load_folder(folder, tmp_path)
    with pytest.raises(MigrakitError, match="cannot be part of a consolidation") as info:
        plan_consolidation(f, ["0000_t", "0001_idx"], consolidated_dir=tmp_path / "c")
    assert info.value.migration == "0001_idx"


def test_snapshot_name_follows_the_tag_prefix():
    assert snapshot_name("0007_brave_hulk") == "0007_snapshot.json"
    assert snapshot_name("20250508083758_SetupTables") == "20250508083758_snapshot.json"
