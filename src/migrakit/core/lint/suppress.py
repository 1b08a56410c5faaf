"""Suppressions: `-- migrakit:allow RULE-ID reason` on a comment line right above a statement (a run of comment
lines is read as one block) allows that rule's findings there. A suppression without a reason suppresses nothing
and is a finding itself, as is one naming no rule. Pure. Cases: tests/lint_cases/suppress/."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from migrakit.core.lint.rule import WARNING, Finding, Rule

SUPPRESSION_WITHOUT_REASON = Rule(
    "suppression-without-reason",
    WARNING,
    "`-- migrakit:allow RULE-ID` without a reason",
    "say why it is safe: `-- migrakit:allow RULE-ID the reason`",
    "a suppression without a reason cannot be reviewed; it suppresses nothing",
    scales=False,
)
UNKNOWN_RULE = Rule(
    "unknown-rule",
    WARNING,
    "`-- migrakit:allow` names a rule that does not exist",
    'use one of the rule ids listed in the migration guide\'s "Safe migrations"',
    "a misspelt suppression suppresses nothing",
    scales=False,
)
RULES = (SUPPRESSION_WITHOUT_REASON, UNKNOWN_RULE)
ALLOW = re.compile(r"^\s*--\s*migrakit:allow\b[ \t]*(?P<rest>.*)$")


@dataclass(frozen=True)
class Suppression:
    rule: str
    reason: str
    line: int


def suppressions(source: str, keyword_offset: int) -> list[Suppression]:
    """The `-- migrakit:allow RULE reason` lines in the run of comment lines right above the line of the
    statement's first keyword (`keyword_offset` into `source`). Nothing when the keyword does not start its
    line (the statement shares a line with another)."""
    lines = source[:keyword_offset].split("\n")
    if lines[-1].strip():
        return []
    found: list[Suppression] = []
    i = len(lines) - 2  # the line above the keyword's (0-based)
    while i >= 0 and lines[i].lstrip().startswith("--") and "statement-breakpoint" not in lines[i]:
        m = ALLOW.match(lines[i])
        if m:
            rest = m.group("rest").strip().split(None, 1)
            if rest:
                found.append(Suppression(rest[0], rest[1].strip() if len(rest) > 1 else "", i + 1))
        i -= 1
    return found


def apply(
    findings: list[Finding], allowed: list[Suppression], known: Collection[str]
) -> tuple[list[Finding], list[Finding]]:
    """(findings kept, findings suppressed); a suppression without a reason or naming no rule (`known`: every
    rule id) adds a finding."""
    kept: list[Finding] = []
    suppressed: list[Finding] = []
    good = {s.rule for s in allowed if s.reason and s.rule in known}
    for f in findings:
        (suppressed if f.rule in good else kept).append(f)
    for s in allowed:
        if s.rule not in known:
            message = f"line {s.line}: `migrakit:allow {s.rule}` names no rule"
            kept.append(Finding(UNKNOWN_RULE.id, UNKNOWN_RULE.severity, message, UNKNOWN_RULE.fix))
        elif not s.reason:
            kept.append(Finding(
                SUPPRESSION_WITHOUT_REASON.id, SUPPRESSION_WITHOUT_REASON.severity,
                f"line {s.line}: `migrakit:allow {s.rule}` gives no reason, so it suppresses nothing",
                f"say why it is safe: `-- migrakit:allow {s.rule} <reason>`",
            ))  # fmt: skip
    return kept, suppressed
