"""core/lint/: the suppressions, and the rules given a measurement (pure)."""

from pathlib import Path

from migrakit.core.lint import suppress
from migrakit.core.lint.engine import RULES, check
from migrakit.core.lint.rule import SEVERITIES, Measured, Seen, Target

NOT_MEASURED = Measured(ran=False)


def rules(sql: str, measured: Measured = NOT_MEASURED, **target) -> list[str]:
    return [f.rule for f in check(Seen(sql, measured, Target(**target)))]


def test_suppression_on_the_comment_lines_above_the_statement():
    src = "SELECT 1;--> statement-breakpoint\n-- why: see ticket\n-- migrakit:allow drop-column the app stopped using it\nALTER TABLE t DROP COLUMN c;"
    found = suppress.suppressions(src, src.index("ALTER"))
    assert [(s.rule, s.reason, s.line) for s in found] == [("drop-column", "the app stopped using it", 3)]


def test_a_suppression_further_up_does_not_apply():
    src = "-- migrakit:allow drop-column reason\nSELECT 1;\nALTER TABLE t DROP COLUMN c;"
    assert suppress.suppressions(src, src.index("ALTER")) == []


def test_a_suppression_without_reason_suppresses_nothing_and_is_a_finding():
    findings = check(Seen("ALTER TABLE t DROP COLUMN c", NOT_MEASURED))
    kept, suppressed = suppress.apply(findings, [suppress.Suppression("drop-column", "", 1)], RULES)
    assert [f.rule for f in kept] == ["drop-column", "suppression-without-reason"] and suppressed == []
    kept, suppressed = suppress.apply(findings, [suppress.Suppression("drop-colum", "typo", 1)], RULES)
    assert [f.rule for f in kept] == ["drop-column", "unknown-rule"]


def test_an_index_on_a_table_created_in_the_same_migration_is_not_flagged():
    sql = "CREATE INDEX i ON t (a)"
    assert rules(sql) == ["index-not-concurrent"]
    assert rules(sql, Measured(new=frozenset({"public.t"}))) == []


def test_a_default_that_rewrote_nothing_is_not_flagged():
    sql = "ALTER TABLE t ADD COLUMN x int DEFAULT 0"
    assert rules(sql, Measured(locks=(("public.t", "AccessExclusiveLock"),))) == []
    rewrote = Measured(locks=(("public.t", "AccessExclusiveLock"),), rewrites=("public.t",))
    assert rules(sql, rewrote) == ["volatile-default"]


def test_add_value_in_a_transaction_is_an_error_only_before_postgresql_12():
    sql = "ALTER TYPE mood ADD VALUE 'x'"
    assert rules(sql, Measured(), server_version=110000) == ["enum-add-value-in-transaction"]
    assert rules(sql, Measured(), server_version=160000) == []
    assert rules(sql, Measured(in_transaction=False), server_version=110000) == []


def test_not_null_without_default_depends_on_the_target_rows():
    sql = "ALTER TABLE t ADD COLUMN x int NOT NULL"
    assert rules(sql, rows={"public.t": 10.0}) == ["add-not-null-without-default"]
    assert rules(sql, rows={"public.t": 0.0}) == []


def test_unparsable_text_gives_no_static_finding():
    assert rules("CREATE FOO BAR") == []


def test_a_finding_on_a_table_the_target_holds_empty_is_info():
    found = check(Seen("CREATE INDEX i ON t (a)", NOT_MEASURED, Target(rows={"public.t": 0.0})))
    assert [(f.rule, f.severity) for f in found] == [("index-not-concurrent", "info")]
    assert "empty on the target" in found[0].message


def test_every_rule_has_a_fix_and_a_severity():
    for rule in RULES.values():
        assert rule.severity in SEVERITIES and rule.fix and rule.why and rule.title


def test_the_guide_lists_every_rule_with_its_fix():
    guide = (Path(__file__).resolve().parents[2] / "docs" / "MIGRATION_GUIDE.md").read_text()
    section = guide.split("## Safe migrations", 1)[1].split("\n## ", 1)[0]
    for rule in RULES.values():
        assert f"| `{rule.id}` | {rule.severity} |" in section and rule.fix in section
