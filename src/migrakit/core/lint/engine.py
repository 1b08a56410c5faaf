"""Judging a migration's statements: every rule family on every statement, with what the lint probe measured,
the refusal db.migrate would raise, and the failures told apart: a statement's own failure is one finding (the
server's error, the environment's or the migration's), one that fails only because an earlier statement failed
is "not measured" and judged on its tree at info level. Then each finding's suppressions. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from migrakit.core.classify import Refusal, classify
from migrakit.core.lint import columns, constraints, enums, failures, indexes, locking, rows, suppress, tables
from migrakit.core.lint.rule import INFO, Earlier, Finding, Measured, Rule, Seen, Target
from migrakit.core.postgres.statements import Statement, keyword_head

# judged in this order: a later family sees what the earlier ones found (`Seen.fired`)
FAMILIES = (indexes, constraints, columns, tables, enums, rows, locking)
RULES: dict[str, Rule] = {r.id: r for family in (*FAMILIES, failures, suppress) for r in family.RULES}
# a server error a rule explains: that rule's finding is the statement's one finding
EXPLAINS: dict[str, str] = {**columns.EXPLAINS, **enums.EXPLAINS, **failures.EXPLAINS}


@dataclass(frozen=True)
class Verdict:
    findings: list[Finding]
    suppressed: list[Finding]
    not_measured: str | None = None  # why the statement's measurement does not count, or None


def rows_on_target(estimates: Mapping[str, float], measured: Sequence[Measured]) -> dict[str, float]:
    """The target's row estimates, plus 0 for the relations the statements touched that the target does not have
    (made by an earlier pending migration: they hold no rows there)."""
    touched = {rel for m in measured for rel in (*(r for r, _ in m.locks), *m.writes)}
    return {rel: 0.0 for rel in touched} | dict(estimates)


def head_offset(st: Statement) -> int:
    """Where the statement's first keyword sits in its file (past leading comments)."""
    return st.end - len(keyword_head(st.text))


class Judge:
    """Judges the migrations of one lint run in order; remembers the run's first failure (later statements that
    fail only for what it left missing are not measured)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.first_failure: str | None = None

    def migration(self, tag: str, statements: Sequence[Statement], measured: Sequence[Measured],
                  refused: Refusal | None = None) -> list[Verdict]:  # fmt: skip
        earlier: list[Earlier] = []
        timeout_set = False
        out: list[Verdict] = []
        for i, (st, m) in enumerate(zip(statements, measured, strict=False)):
            head = head_offset(st)
            reason = None
            if m.error is not None and self.first_failure and m.sqlstate in failures.MISSING:
                reason = f"it fails only for what {self.first_failure} left missing (that one failed on the shadow)"
                m = replace(m, error=None, sqlstate=None, ran=False)
            elif not m.ran:
                reason = f"not run on the shadow: {self.first_failure or 'an earlier statement'} failed before it"
            seen = Seen(st.text, m, self.target, i + 1, tuple(earlier), timeout_set)
            found = check(seen, refused_here=refused is not None and refused.statement == i)
            if m.error is not None:
                self.first_failure = self.first_failure or f"statement {i + 1} of {tag}"
            if refused is not None and refused.statement == i:
                found.insert(0, failures.refused(seen, refused))
            if reason is not None:
                found = [replace(f, severity=INFO, message=f"{f.message} (not measured)") for f in found]
            kept, suppressed = suppress.apply(found, suppress.suppressions(st.source, head), RULES)
            out.append(Verdict(kept, suppressed, reason))
            earlier.append(Earlier(i + 1, st.source[head : st.end].strip(), m.locks, st.kind))
            timeout_set = timeout_set or classify(st.text).has("set_lock_timeout")
        return out


def check(seen: Seen, *, refused_here: bool = False) -> list[Finding]:
    """The findings of every family for one statement (before suppressions). A statement that failed on the
    shadow gets one: the rule that explains its error, none when it is the refusal's (CONCURRENTLY inside a
    transaction: `refused_here`), else statement-failed."""
    found: list[Finding] = []
    for family in FAMILIES:
        found += family.check(replace(seen, fired=tuple(found)))
    if seen.measured.error is None:
        return found
    explained = [f for f in found if f.rule == EXPLAINS.get(seen.measured.sqlstate or "")]
    if explained:
        return explained[:1]
    if refused_here and seen.measured.sqlstate == "25001":
        return []
    return list(failures.check(seen))
