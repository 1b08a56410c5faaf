"""What every lint rule module shares: `Rule` (id, severity, what goes wrong, the safe way), `Finding`, and `Seen`,
the statement being judged with everything known about it: its classification (core/classify.py), what the
lint probe measured on the shadow (`Measured`), the target's row estimates (`Target`) and the statements before
it in the migration (`Earlier`). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from migrakit.core.classify import Classification, classify
from migrakit.core.postgres.actions import WRITE_BLOCKING, Action

ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (INFO, WARNING, ERROR)  # in rising order


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str  # one line, for the guide and the rule list
    fix: str  # the safe rewrite
    why: str  # what goes wrong, for the guide
    scales: bool = True  # on a relation the target holds empty, a finding of this rule is info


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    message: str
    fix: str


@dataclass(frozen=True)
class Measured:
    """What running the statement on the shadow showed (db/inspect lint probe). Relations are `schema.name`.

    `locks`: taken by this statement; `held`: every relation lock its transaction holds after it; `rewrites`:
    relations whose file changed (tables, materialized views, and `indexes`, the indexes among them that were
    rebuilt); `scans`: relations read by a sequential or index scan, `seq_scans` those read whole; `writes`:
    rows inserted, updated or deleted per table; `new`: relations created earlier in the migration or by this
    statement (locks on them block nobody); `shadow_rows`: the shadow's row estimate of the tables written."""

    locks: tuple[tuple[str, str], ...] = ()
    held: tuple[tuple[str, str], ...] = ()
    rewrites: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()
    scans: tuple[str, ...] = ()
    seq_scans: tuple[str, ...] = ()
    writes: Mapping[str, int] = field(default_factory=dict)
    shadow_rows: Mapping[str, float] = field(default_factory=dict)
    new: frozenset[str] = frozenset()
    error: str | None = None
    sqlstate: str | None = None
    in_transaction: bool = True
    ran: bool = True  # False: not run on the shadow (the statements before it failed)

    @property
    def ok(self) -> bool:
        return self.ran and self.error is None


@dataclass(frozen=True)
class Target:
    """What is known of the target: row estimates (`rows`, reltuples; -1: never analyzed; a relation it does not
    have holds none), its server version (the older of the target's and the shadow's), and whether migrakit's
    lock_timeout is off (0)."""

    rows: Mapping[str, float] = field(default_factory=dict)
    server_version: int = 0
    lock_timeout_disabled: bool = False


@dataclass(frozen=True)
class Earlier:
    """A statement before the judged one in the same migration: where it is, and the locks it took."""

    index: int  # 1-based
    sql: str  # its text, past leading comments
    locks: tuple[tuple[str, str], ...] = ()
    kind: str = ""  # its transaction kind (core/classify.py)


@dataclass(frozen=True)
class Seen:
    """The statement judged, with everything known about it."""

    text: str
    measured: Measured = field(default_factory=Measured)
    target: Target = field(default_factory=Target)
    index: int = 1
    earlier: tuple[Earlier, ...] = ()
    timeout_set: bool = False  # a statement before it in the migration set lock_timeout
    fired: tuple[Finding, ...] = ()  # findings of the families judged before (the engine fills it)

    @property
    def classification(self) -> Classification:
        return classify(self.text, self.target.server_version or 160000)

    @property
    def actions(self) -> tuple[Action, ...]:
        return self.classification.actions or ()

    @property
    def measured_ok(self) -> bool:
        return self.measured.ok

    def existing(self, rel: str | None) -> bool:
        """The relation existed before the migration (locks on it block the application)."""
        return rel is not None and rel not in self.measured.new

    def rows(self, rel: str | None) -> float | None:
        """The target's row estimate; None when unknown (never analyzed, or not a relation)."""
        if rel is None:
            return None
        n = self.target.rows.get(rel)
        return None if n is None or n < 0 else n

    def has_rows(self, rel: str | None) -> bool:
        """Rows on the target (reltuples > 0); a table never analyzed (-1) or unknown counts as having rows."""
        if rel is None:
            return False
        n = self.target.rows.get(rel)
        return n is None or n != 0

    def size(self, rel: str | None) -> str:
        n = self.rows(rel)
        return f" (~{int(n)} rows on the target)" if n is not None else ""

    def scans(self) -> tuple[str, ...]:
        """Relations scanned: measured, or what the tree says it may scan when it was not measured."""
        return self.measured.scans if self.measured_ok else self.classification.scans

    def rewrites(self) -> tuple[str, ...]:
        return self.measured.rewrites if self.measured_ok else self.classification.rewrites

    def locks(self) -> tuple[tuple[str, str], ...]:
        return self.measured.locks if self.measured_ok else self.classification.locks

    def strong_locks(self) -> list[tuple[str, str]]:
        """Locks blocking writes that this statement took on relations that existed before the migration."""
        return [(r, m) for r, m in self.locks() if m in WRITE_BLOCKING and self.existing(r)]

    def taker(self, rel: str, mode: str) -> int:
        """The statement (1-based index) whose lock `mode` on `rel` the transaction holds: the last one at or
        before this statement that took it."""
        if (rel, mode) in self.measured.locks:
            return self.index
        return next((e.index for e in reversed(self.earlier) if (rel, mode) in e.locks), self.index)

    def statement(self, index: int) -> str:
        """'statement 2 (ALTER TABLE users ADD COLUMN ...)'."""
        sql = self.text if index == self.index else next((e.sql for e in self.earlier if e.index == index), "")
        one = " ".join(sql.split())
        return f"statement {index}" + (f" ({one[:57] + '...' if len(one) > 60 else one})" if one else "")

    def finding(self, rule: Rule, message: str, relation: str | None = None, *, fix: str | None = None,
                severity: str | None = None) -> Finding:  # fmt: skip
        """A finding of `rule`; about a relation the target holds empty (no rows) it is info, when the rule
        scales with the table's size."""
        sev = severity or rule.severity
        if rule.scales and relation is not None and self.rows(relation) == 0 and sev != INFO:
            sev, message = INFO, f"{message} (empty on the target)"
        return Finding(rule.id, sev, message, fix or rule.fix)
