"""`db.lint` as text: a table per migration (rich on a terminal, plain otherwise), then each finding with its
fix. JSON is `lint_json` below (registered in render/json/lint.py). Also GitHub Actions annotations (`--github`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from migrakit.core.lint.rule import SEVERITIES
from migrakit.render.error_text import github_data, github_property

if TYPE_CHECKING:
    from migrakit.core.lint.rule import Finding
    from migrakit.core.reports.lint import LintReport, LintStatement

HEAD_CHARS = 60


def head(sql: str, width: int = HEAD_CHARS) -> str:
    one = " ".join(sql.split())
    return one if len(one) <= width else one[: width - 3] + "..."


def size_text(sizes: dict[str, tuple[float, int]], rel: str) -> str:
    """'2.1 GB, ~14 M rows' for a relation of the target; '' when the target does not have it."""
    if rel not in sizes:
        return ""
    tuples, size = sizes[rel]
    b = float(size)
    unit = "B"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if b < 1024 or unit == "TB":
            break
        b /= 1024
    if tuples < 0:
        rows = "never analyzed"
    elif tuples >= 1e6:
        rows = f"~{tuples / 1e6:.1f} M rows"
    elif tuples >= 1e3:
        rows = f"~{tuples / 1e3:.1f} k rows"
    else:
        rows = f"~{int(tuples)} rows"
    return f"{b:.0f} {unit}, {rows}" if unit == "B" else f"{b:.1f} {unit}, {rows}"


def lock_lines(report: LintReport, st: LintStatement) -> list[str]:
    out = []
    for rel, mode in st.locks:
        size = size_text(report.sizes, rel)
        extra = [size] if size else []
        if rel in st.new:
            extra.append("new in this migration")
        out.append(f"{mode} on {rel}" + (f" ({'; '.join(extra)})" if extra else ""))
    if not out:  # nothing new: show the strong locks the transaction already holds (they last until COMMIT)
        from migrakit.core.postgres.actions import WRITE_BLOCKING

        out = [f"{mode} on {rel} (held since an earlier statement)" for rel, mode in st.held
               if mode in WRITE_BLOCKING and rel not in st.new]
    return out


def _effects(st: LintStatement) -> str:
    parts = []
    if st.rewrites:
        parts.append("rewrite: " + ", ".join(r + (" (index)" if r in st.indexes else "") for r in st.rewrites))
    if st.scans and not st.rewrites:
        parts.append("scan: " + ", ".join(st.scans))
    if st.not_measured:
        parts.append("not measured: " + st.not_measured)
    elif not st.ran:
        parts.append("not run (an earlier statement failed)")
    return "; ".join(parts)


def render_lint(report: LintReport, fmt: str = "plain") -> str:
    from migrakit.render.text import table as _table

    lines = [
        f"database: {report.target} (read only: row estimates and sizes)",
        f"shadow:   {report.shadow}, PostgreSQL {report.server_version // 10000}",
    ]
    if not report.migrations:
        lines.append(f"nothing to lint: {report.nothing}")
    for m in report.migrations:
        lines.append("")
        lines.append(f"{m.tag} ({m.path})")
        rows = []
        for st in m.statements:
            locks = lock_lines(report, st) or ["-"]
            ms = f"{st.duration_ms:.1f}" if st.duration_ms is not None else "-"
            if fmt == "rich":  # one row per statement; a cell wraps
                rules = "\n".join(f"{f.severity}: {f.rule}" for f in st.findings) or "-"
                rows.append([str(st.line), head(st.sql, 48), "\n".join(locks), _effects(st) or "-", ms, rules])
                continue
            rules = ", ".join(f"{f.severity}:{f.rule}" for f in st.findings) or "-"
            rows.append([str(st.line), head(st.sql, 40), locks[0], _effects(st) or "-", ms, rules])
            rows += [["", "", more, "", "", ""] for more in locks[1:]]
        lines.append(_table(["line", "statement", "locks (target size)", "rewrite/scan", "ms", "findings"], rows, fmt))
        for st in m.statements:
            for f in st.findings:
                lines.append(f"{f.severity}: {m.path}:{st.line} [{f.rule}] {f.message}")
                lines.append(f"  fix: {f.fix}")
            for f in st.suppressed:
                lines.append(f"allowed: {m.path}:{st.line} [{f.rule}] (migrakit:allow in the file)")
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in reversed(SEVERITIES)}
    lines.append("")
    lines.append(
        f"{sum(len(m.statements) for m in report.migrations)} statement(s) in {len(report.migrations)} migration(s): "
        + ", ".join(f"{n} {s}(s)" for s, n in counts.items())
        + (f"; fails at --fail-on {report.fail_on}" if not report.ok else "")
    )
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


def github_annotations(report: LintReport) -> str:
    """One `::error file=…,line=…::…` (or ::warning / ::notice) line per finding."""
    level = {"error": "error", "warning": "warning", "info": "notice"}
    out = []
    for m in report.migrations:
        for st in m.statements:
            for f in st.findings:
                title = github_property(f"migrakit {f.rule}")
                out.append(f"::{level[f.severity]} file={m.path},line={st.line},title={title}::"
                           + github_data(f"{f.message}. Fix: {f.fix}"))
    return "\n".join(out)


def finding(f: Finding) -> dict[str, Any]:
    return {"rule": f.rule, "severity": f.severity, "message": f.message, "fix": f.fix}


def lint_json(r: LintReport) -> dict[str, Any]:
    """core.reports.lint.LintReport (db.lint): per migration, per statement (index from 1 within the migration)."""
    def size(rel: str) -> dict[str, Any] | None:
        if rel not in r.sizes:
            return None
        tuples, total = r.sizes[rel]
        return {"rows_estimate": tuples, "bytes": total}

    return {
        "database": r.target,
        "shadow_server": r.shadow,
        "shadow_server_version": r.server_version,
        "fail_on": r.fail_on,
        "finding_count": len(r.findings),
        "failing_count": len(r.failing),
        "migrations": [
            {
                "tag": m.tag,
                "file": m.path,
                "failure": m.error,
                "statements": [
                    {
                        "index": s.index,
                        "line": s.line,
                        "sql": s.sql,
                        "locks": [
                            {"relation": rel, "mode": mode, "new": rel in s.new, "target": size(rel)}
                            for rel, mode in s.locks
                        ],
                        "held": [{"relation": rel, "mode": mode} for rel, mode in s.held],
                        "rewrites": list(s.rewrites),
                        "rewritten_indexes": list(s.indexes),
                        "scans": list(s.scans),
                        "duration_ms": s.duration_ms,
                        "in_transaction": s.in_transaction,
                        "ran": s.ran,
                        "failure": s.error,
                        "not_measured": s.not_measured,
                        "rows_written": dict(s.writes),
                        "findings": [finding(f) for f in s.findings],
                        "suppressed": [finding(f) for f in s.suppressed],
                    }
                    for s in m.statements
                ],
            }
            for m in r.migrations
        ],
        "notes": list(r.notes),
    }


def findings(report: LintReport) -> list[dict[str, Any]]:
    """A LintReport's findings, flat: where (migration tag, statement index from 1), what, and whether it fails
    the run."""
    failing = {id(f) for f in report.failing}
    return [
        {"migration": m.tag, "statement": st.index, "rule": f.rule, "severity": f.severity, "message": f.message,
         "fix": f.fix, "failing": id(f) in failing}
        for m in report.migrations for st in m.statements for f in st.findings
    ]  # fmt: skip
