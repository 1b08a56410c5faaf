"""`db.lint --all` on every real folder of ../shared/corpus: findings by severity and rule, per folder.

    .venv/bin/python bench/lint_corpus.py            # prints a table; --out FILE writes it too

Each folder is linted with every migration (`--all`) on its own shadow database, against two targets: an empty
database (what CI on a fresh database sees) and the database holding the whole folder, applied by db.migrate
(tables exist, without rows). A folder's finding at error level is what `db.lint --all` fails on; the teams
committed these folders on purpose, so every error there must be a real hazard or an environment the shadow
lacks, not noise. Run it before and after a change to the rules and compare.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    sys.path.insert(1, str(ROOT))  # after PYTHONPATH: a checkout of the code before a change can be measured

from bench.pg import Postgres  # noqa: E402
from migrakit.errors import MigrakitError  # noqa: E402
from migrakit.sources.config import load_settings  # noqa: E402
from migrakit.workflows import lint as lint_workflow  # noqa: E402
from migrakit.workflows.migrate import migrate  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"


def lint_folder(pg: Postgres, case: Path, applied: bool) -> tuple[Counter[str], Counter[str], str]:
    """(findings by severity, errors by rule, a note) for one folder."""
    with tempfile.TemporaryDirectory() as tmp:
        url = pg.url_of(pg.new_database())
        legacy = {"legacy_dir": str(case / "legacy")} if (case / "legacy").is_dir() else {}
        settings = load_settings(Path(tmp), env={}, database_url=url, migrations_dir=str(case / "migrations"),
                                 shadow_url=pg.url, **legacy)  # fmt: skip
        note = ""
        if applied:
            try:
                migrate(settings)
            except MigrakitError as err:
                return Counter(), Counter(), f"not applied: {err.message[:60]}"
        report = lint_workflow.lint(settings, every=True)
        findings = report.findings
        severities = Counter(f.severity for f in findings)
        errors = Counter(f.rule for f in findings if f.severity == "error")
        unmeasured = sum(1 for m in report.migrations for s in m.statements if getattr(s, "not_measured", None))
        statements = sum(len(m.statements) for m in report.migrations)
        note = f"{statements} statements" + (f", {unmeasured} not measured" if unmeasured else "")
        return severities, errors, note


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import migrakit

    lines = [f"db.lint --all on ../shared/corpus (code: {Path(migrakit.__file__).parent})", "",
             "| folder | target | errors | warnings | infos | errors by rule | |", "|---|---|---:|---:|---:|---|---|"]  # fmt: skip
    with Postgres() as pg:
        for case in sorted(p for p in CORPUS.iterdir() if (p / "migrations").is_dir()):
            for applied in (False, True):
                sev, errors, note = lint_folder(pg, case, applied)
                by_rule = ", ".join(f"{r} {n}" for r, n in errors.most_common()) or "-"
                lines.append(f"| {case.name} | {'folder applied' if applied else 'empty'} | {sev['error']} | "
                             f"{sev['warning']} | {sev['info']} | {by_rule} | {note} |")  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
