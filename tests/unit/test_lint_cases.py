"""The static half of every case in tests/lint_cases/: the rules on the facts PostgreSQL measured for it (recorded
in the case, checked against the server by tests/integration/test_lint.py), without a server; the tree's locks
against the measured ones; and the corpus's shape: one folder per rule module, a case for every rule."""

from __future__ import annotations

import pytest

from migrakit.core.classify import classify
from migrakit.core.lint import failures, suppress
from migrakit.core.lint.engine import FAMILIES
from tests.fixtures.lint_cases import CASE_FILES, CASES, family, judge_recorded, load, measured, migration

IDS = [f"{family(p)}/{p.stem}" for p in CASE_FILES]
# rules no case on this server can show, and why
UNMEASURED = {
    "enum-add-value-in-transaction": "fires on PostgreSQL < 12 only; the test server is newer (unit test in test_lint_rules)",
    "missing-lock-timeout": "needs lock_timeout = 0 in the settings (tests/integration/test_lint.py has its own test)",
    "set-tablespace": "a tablespace is the server's, not a database's: the shadow on the same server cannot replay it",
    "unknown-rule": "a case of its own would only repeat suppress/30 (unit test in test_lint_rules)",
}


@pytest.mark.parametrize("path", CASE_FILES, ids=IDS)
def test_the_rules_on_the_recorded_measurement_give_the_expected_ones(path):
    case = load(path)
    assert "measured" in case, "record it: MIGRAKIT_REGEN_LINT_CASES=1 pytest tests/integration/test_lint.py"
    findings = [f for v in judge_recorded(case) for f in v.findings]
    assert {f.rule for f in findings if f.severity != "info"} == set(case["expect"]["rules"]), findings
    flagged = {f.severity for f in findings} & {"error", "warning"}
    assert bool(flagged) == (case["kind"] == "dangerous"), findings
    assert all(f.fix and f.message for f in findings)


@pytest.mark.parametrize("path", CASE_FILES, ids=IDS)
def test_the_locks_the_tree_names_are_the_ones_measured(path):
    case = load(path)
    for st, rec in zip(migration(case).statements, case["measured"]["statements"]):
        m = measured(rec)
        if not m.ok or not m.in_transaction:  # a failure, or watched from outside: pg_locks saw only some
            continue
        taken = set(m.locks) | set(m.held)
        predicted = {(rel, mode) for rel, mode in classify(st.text).locks if rel not in m.new}
        assert predicted <= taken, (st.text, predicted - taken)


def test_every_rule_module_has_a_cases_folder_and_every_rule_a_case():
    modules = {f.__name__.rsplit(".", 1)[1]: f for f in (*FAMILIES, failures, suppress)}
    folders = {p.name for p in CASES.iterdir() if p.is_dir()}
    assert folders == set(modules)
    for name, module in modules.items():
        expected = {r for p in CASE_FILES if family(p) == name for r in load(p)["expect"]["rules"]}
        missing = {r.id for r in module.RULES} - expected - set(UNMEASURED)
        assert not missing, f"tests/lint_cases/{name}/ has no case for {sorted(missing)}"


def test_the_corpus_holds_at_least_45_measured_cases_dangerous_and_safe():
    kinds = [load(p)["kind"] for p in CASE_FILES]
    assert len(kinds) >= 45
    assert kinds.count("dangerous") >= 20 and kinds.count("safe") >= 20
