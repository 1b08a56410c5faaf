"""Planner invariants on generated folders and tracking tables (hypothesis): never plans a migration a row
already carries, never drops a pending one silently, and applying the plan leaves nothing pending."""

from hypothesis import given, settings
from hypothesis import strategies as st

from migrakit.core.migration import Migration, TrackingRow
from migrakit.core.plan.planner import EDITED, SKIPPED_BY_DRIZZLE, UNKNOWN_ROW, drizzle_would_apply, plan

HASHES = [f"{c:064x}" for c in range(1, 7)]  # a small alphabet, so identical files (same hash) happen


@st.composite
def folders(draw):
    """(migrations in journal order, tracking rows): rows of migrations that ran (maybe edited since), rows
    of files that are gone, in any order of ids."""
    n = draw(st.integers(0, 8))
    whens = draw(st.lists(st.integers(1, 50), min_size=n, max_size=n))
    hashes = draw(st.lists(st.sampled_from(HASHES), min_size=n, max_size=n))
    migrations = [Migration(tag=f"{i:04d}_m", when=w, path=f"{i:04d}_m.sql", text="", hash=h) for i, (w, h) in enumerate(zip(whens, hashes))]
    rows = []
    for m in migrations:
        fate = draw(st.sampled_from(["pending", "applied", "applied", "edited"]))
        if fate == "applied":
            rows.append((m.hash, m.when))
        elif fate == "edited":  # ran with other bytes: same `when`, another hash
            rows.append((draw(st.sampled_from([h for h in HASHES if h != m.hash])), m.when))
    rows += draw(st.lists(st.tuples(st.sampled_from(HASHES + ["f" * 64]), st.integers(1, 60)), max_size=3))  # gone files
    order = draw(st.permutations(range(len(rows))))
    tracking = [TrackingRow(id=i + 1, hash=rows[j][0], created_at=rows[j][1]) for i, j in enumerate(order)]
    return migrations, tracking


def identity(ms):
    return [id(m) for m in ms]


@settings(max_examples=200, deadline=None)
@given(folders())
def test_every_migration_is_applied_pending_or_reported_edited(case):
    migrations, rows = case
    p = plan(migrations, rows, out_of_order=True)
    applied = [m for m, _ in p.applied]
    edited = {pr.migration for pr in p.problems if pr.kind == EDITED}
    for m in migrations:
        states = (id(m) in identity(applied), id(m) in identity(p.pending), m.tag in edited)
        assert sum(states) == 1, (m, p)
    assert [m for m in migrations if id(m) in identity(p.pending)] == list(p.pending)  # journal order kept


@settings(max_examples=200, deadline=None)
@given(folders())
def test_rows_pair_one_to_one_and_a_carried_hash_is_never_planned_again(case):
    migrations, rows = case
    p = plan(migrations, rows, out_of_order=True)
    used = [r.id for _, r in p.applied]
    assert len(used) == len(set(used))
    assert all(m.hash == r.hash for m, r in p.applied)
    for m in p.pending:  # every row carrying its hash is taken by another migration with the same bytes
        carried = sum(1 for r in rows if r.hash == m.hash)
        assert carried <= sum(1 for a, _ in p.applied if a.hash == m.hash)
    leftover = {r.id for r in rows} - set(used)
    unknown = {r.id for r in p.unknown_rows}
    assert unknown <= leftover
    assert sum(1 for pr in p.problems if pr.kind == UNKNOWN_ROW) == len(unknown)


@settings(max_examples=200, deadline=None)
@given(folders())
def test_applying_the_plan_leaves_nothing_pending(case):
    migrations, rows = case
    p = plan(migrations, rows, out_of_order=True)
    after = list(rows) + [TrackingRow(id=1000 + i, hash=m.hash, created_at=m.when) for i, m in enumerate(p.pending)]
    again = plan(migrations, after, out_of_order=True)
    assert again.pending == ()
    # Every migration that ran is now applied; only the edited ones are not (which of two byte-identical files
    # is the edited one may change, not how many).
    assert len(again.applied) == len(p.applied) + len(p.pending)
    assert sum(1 for pr in again.problems if pr.kind == EDITED) == sum(1 for pr in p.problems if pr.kind == EDITED)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(HASHES), min_size=1, max_size=10), st.data())
def test_on_a_linear_history_migrakit_and_drizzle_agree(hashes, data):
    """Increasing `when`, a prefix applied: pending is the rest, Drizzle would apply exactly that, no problems."""
    migrations = [Migration(tag=f"{i:04d}_m", when=1000 + i, path="", text="", hash=h) for i, h in enumerate(hashes)]
    k = data.draw(st.integers(0, len(migrations)))
    rows = [TrackingRow(id=i + 1, hash=m.hash, created_at=m.when) for i, m in enumerate(migrations[:k])]
    p = plan(migrations, rows)
    assert list(p.pending) == migrations[k:]
    assert p.problems == ()
    assert drizzle_would_apply(migrations, rows, layout="journal") == tuple(m.tag for m in migrations[k:])


@settings(max_examples=200, deadline=None)
@given(folders())
def test_a_pending_migration_drizzle_would_skip_is_always_reported(case):
    migrations, rows = case
    p = plan(migrations, rows)
    newest = max((r.created_at for r in rows), default=None)
    flagged = {pr.migration for pr in p.problems if pr.kind == SKIPPED_BY_DRIZZLE}
    for m in p.pending:
        assert (m.tag in flagged) == (newest is not None and m.when <= newest)
