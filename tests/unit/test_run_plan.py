"""core/plan/run_plan.py: what one run does with a plan, decided without a database."""

import pytest

from migrakit.core.drizzle.naming import snapshot_name
from migrakit.core.migration import CONSOLIDATED, Migration, TrackingRow, drizzle_hash
from migrakit.core.plan.planner import plan
from migrakit.core.plan.run_plan import (
    bootstrap_report,
    check_statements,
    legacy_failure,
    refuse_blocking,
    run_state,
    runnable,
    up_to,
)
from migrakit.errors import DriftError, MigrakitError


def mig(tag: str, when: int, text: str | None = None, mode: str = "standard") -> Migration:
    text = text if text is not None else f"CREATE TABLE {tag} (id int);"
    return Migration(tag=tag, when=when, path=f"migrations/{tag}.sql", text=text, hash=drizzle_hash(text.encode()), mode=mode)


def row(i: int, m: Migration) -> TrackingRow:
    return TrackingRow(id=i, hash=m.hash, created_at=m.when)


def test_up_to_keeps_the_pending_migrations_up_to_the_tag_and_names_the_rest():
    a, b, c, d = mig("a", 1), mig("b", 2), mig("c", 3), mig("d", 4)
    p, cut = up_to(plan([a, b, c, d], [row(1, a)]), "c")
    assert [m.tag for m in p.pending] == ["b", "c"]
    assert cut == {"to": "c", "held_back": ["d"]}


def test_up_to_an_applied_tag_runs_nothing_and_says_so():
    a, b = mig("a", 1), mig("b", 2)
    p, cut = up_to(plan([a, b], [row(1, a)]), "a")
    assert p.pending == ()
    assert cut == {"to": "a", "to_already_applied": True, "held_back": ["b"]}
    assert up_to(plan([a, b], []), None)[1] == {}


def test_runnable_refuses_to_run_a_consolidation_past_a_pending_mode_1_migration():
    a, z = mig("a", 1), mig("z", 2, mode=CONSOLIDATED)
    with pytest.raises(DriftError, match="a \\(standard\\) is pending and comes before z"):
        runnable(plan([a, z], []), (CONSOLIDATED,))
    assert [m.tag for m in runnable(plan([a, z], [row(1, a)]), (CONSOLIDATED,))] == ["z"]
    assert [m.tag for m in runnable(plan([a, z], []), None)] == ["a", "z"]


TEMPLATE = "-- Custom SQL migration file, put your code below! --\n"


def test_only_a_forgotten_custom_migration_is_refused_unless_allowed():
    """Issue 23.5: the untouched template (and SQL typed into its header line) is a forgotten migration; a file
    of comments only, or an empty file, is a deliberate no-op, recorded as Drizzle records it."""
    forgotten = [mig("a", 1, text=TEMPLATE), mig("b", 2, text=TEMPLATE.strip() + "CREATE TABLE b (id int);\n")]
    no_ops = [mig("c", 3, text="-- no DDL needed: the change is in the JSONB payload\n"), mig("d", 4, text=""),
              mig("e", 5, text=TEMPLATE + "-- nothing to do: the backfill runs in the app\n"),
              mig("f", 6, text="/* c */\n--> statement-breakpoint\n-- d\n")]  # fmt: skip
    p = plan([*forgotten, *no_ops], [])
    with pytest.raises(MigrakitError, match="migration a holds no SQL statement: its SQL was never written") as exc:
        check_statements(p)
    assert exc.value.details == ["also forgotten: migrations/b.sql"] and "--allow-empty" in (exc.value.fix or "")
    check_statements(p, allow_empty=True)
    check_statements(p, single_transaction=True)  # Drizzle-exact: Drizzle records both
    check_statements(plan(no_ops, []))
    assert [m.no_statement for m in no_ops] == [
        "no statement: comments only", "no statement: empty file", "no statement: comments only",
        "no statement: comments only",
    ]  # fmt: skip
    assert [m.forgotten for m in forgotten] == [True, True] and mig("g", 7).no_statement is None


def test_refuse_blocking_names_the_first_problem_and_lists_the_others():
    a = mig("a", 1)
    edited = mig("a", 1, text="CREATE TABLE a (id bigint);")
    p = plan([edited], [row(1, a)])
    with pytest.raises(DriftError, match="a was applied") as exc:
        refuse_blocking(p)
    assert exc.value.state == "nothing was run"
    refuse_blocking(plan([a], [row(1, a)]))  # nothing blocks


def test_run_state_says_what_was_applied_except_under_single_transaction():
    assert run_state("failed", ["a", "b"], [], single_transaction=False) == (
        "failed; applied and tracked before it in this run: a, b"
    )
    assert run_state("failed", ["a"], ["z"], single_transaction=True) == "failed; recorded without running: z"
    assert run_state(None, [], [], single_transaction=False) == ""


def test_bootstrap_report_splits_the_legacy_files_into_run_adopt_already_and_left():
    one, two, three = mig("001_a", 1, mode="legacy"), mig("002_b", 2, mode="legacy"), mig("003_c", 3, mode="legacy")
    p = plan([one, two, three], [row(1, one)], layout="legacy")
    report = bootstrap_report("db", "legacy", p, ["001_a", "002_b"], ["003_c"], named=True)
    assert (report.to_run, report.adopt, report.already, report.left) == (["002_b"], ["003_c"], ["001_a"], [])


def test_legacy_failure_points_at_db_bootstrap_and_at_db_check_when_the_object_exists():
    err = MigrakitError("boom", migration="002_b", state="rolled back", fix="fix it, then run `inv db.migrate`")
    legacy_failure(err, ["001_a"])
    assert err.fix == "fix it, then run `inv db.bootstrap`"
    assert err.state == "rolled back; done before it in this run: 001_a"
    exists = MigrakitError("boom", migration="002_b", fix="x")
    exists.sqlstate = "42P07"  # type: ignore[attr-defined]
    legacy_failure(exists, [])
    assert "already exist here" in (exists.fix or "") and "inv db.check" in (exists.fix or "")


def test_snapshot_name_is_the_tags_prefix():
    assert snapshot_name("0007_add_users") == "0007_snapshot.json"
    assert snapshot_name("20250508083758_init") == "20250508083758_snapshot.json"
