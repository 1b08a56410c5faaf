"""core/lint_rules.py: the parse tree, the suppressions, and the rules given a measurement (pure)."""

from migrakit.core import lint_catalog, lint_rules
from migrakit.core.lint_rules import Observed


def test_suppression_on_the_comment_lines_above_the_statement():
    src = "SELECT 1;--> statement-breakpoint\n-- why: see ticket\n-- migrakit:allow drop-column the app stopped using it\nALTER TABLE t DROP COLUMN c;"
    found = lint_rules.suppressions(src, src.index("ALTER"))
    assert [(s.rule, s.reason, s.line) for s in found] == [("drop-column", "the app stopped using it", 3)]


def test_a_suppression_further_up_does_not_apply():
    src = "-- migrakit:allow drop-column reason\nSELECT 1;\nALTER TABLE t DROP COLUMN c;"
    assert lint_rules.suppressions(src, src.index("ALTER")) == []


def test_a_suppression_without_reason_suppresses_nothing_and_is_a_finding():
    findings = lint_rules.check("ALTER TABLE t DROP COLUMN c", Observed())
    kept, suppressed = lint_rules.apply_suppressions(findings, [lint_rules.Suppression("drop-column", "", 1)])
    assert [f.rule for f in kept] == ["drop-column", "suppression-without-reason"] and suppressed == []
    kept, suppressed = lint_rules.apply_suppressions(findings, [lint_rules.Suppression("drop-colum", "typo", 1)])
    assert [f.rule for f in kept] == ["drop-column", "unknown-rule"]


def test_an_index_on_a_table_created_in_the_same_migration_is_not_flagged():
    sql = "CREATE INDEX i ON t (a)"
    assert [f.rule for f in lint_rules.check(sql, Observed())] == ["index-not-concurrent"]
    assert lint_rules.check(sql, Observed(new=frozenset({"public.t"}))) == []


def test_a_default_that_rewrote_nothing_is_not_flagged():
    sql = "ALTER TABLE t ADD COLUMN x int DEFAULT 0"
    assert lint_rules.check(sql, Observed(locks=(("public.t", "AccessExclusiveLock"),))) == []
    rewrote = Observed(locks=(("public.t", "AccessExclusiveLock"),), rewrites=("public.t",))
    assert [f.rule for f in lint_rules.check(sql, rewrote)] == ["volatile-default"]


def test_add_value_in_a_transaction_is_an_error_only_before_postgresql_12():
    sql = "ALTER TYPE mood ADD VALUE 'x'"
    assert [f.rule for f in lint_rules.check(sql, Observed(server_version=110000))] == ["enum-add-value-in-transaction"]
    assert lint_rules.check(sql, Observed(server_version=160000)) == []
    assert lint_rules.check(sql, Observed(server_version=110000, in_transaction=False)) == []


def test_not_null_without_default_depends_on_the_target_rows():
    sql = "ALTER TABLE t ADD COLUMN x int NOT NULL"
    assert [f.rule for f in lint_rules.check(sql, Observed(rows={"public.t": 10.0}))] == ["add-not-null-without-default"]
    assert lint_rules.check(sql, Observed(rows={"public.t": 0.0})) == []


def test_unparsable_text_gives_no_static_finding():
    assert lint_rules.actions("CREATE FOO BAR") is None
    assert lint_rules.check("CREATE FOO BAR", Observed()) == []


def test_every_rule_has_a_fix_and_a_severity():
    for rule in lint_catalog.RULES.values():
        assert rule.severity in lint_catalog.SEVERITIES and rule.fix and rule.why and rule.title


def test_the_guide_lists_every_rule_with_its_fix():
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "MIGRATION_GUIDE.md").read_text()
    section = guide.split("## Safe migrations", 1)[1].split("\n## ", 1)[0]
    for rule in lint_catalog.RULES.values():
        assert f"| `{rule.id}` | {rule.severity} |" in section and rule.fix in section
