"""`db.lint` against squawk on tests/lint_cases/, and the lint time for 20 pending migrations.

    npm install --prefix bench/squawk       # squawk-cli from npm, pinned in bench/squawk/package-lock.json
    .venv/bin/python bench/lint_compare.py  # writes bench/results/lint.md; without squawk its columns say so

Each case is a dangerous or safe migration on a seeded table of 5,000 rows (tests/lint_cases/<family>/*.toml). migrakit
lints it measured on a shadow database (db/inspect/lint_probe.py); squawk reads the same SQL file statically
(`--pg-version` = the server's). Reported for both tools: dangerous migrations flagged, safe migrations given
an error (what fails CI: for migrakit an error-level finding, for squawk any violation, since squawk exits 1 on
any). For squawk also the same counts without its style rules (prefer-*, require-*-timeout: migrakit sets
lock_timeout itself). For migrakit also whether every expected lock and rewrite was measured.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    sys.path[0] = str(ROOT)

from tests.fixtures.folders import add_migration, make_drizzle_folder  # noqa: E402

from bench.pg import Postgres  # noqa: E402
from migrakit.sources.config import load_settings  # noqa: E402
from migrakit.workflows import lint as lint_workflow  # noqa: E402
from migrakit.workflows.migrate import migrate  # noqa: E402

CASES = ROOT / "tests" / "lint_cases"
RESULTS = ROOT / "bench" / "results"
SQUAWK = ROOT / "bench" / "squawk" / "node_modules" / ".bin" / "squawk"
STYLE = ("prefer-", "require-timeout", "require-lock-timeout", "require-statement-timeout")


def squawk(sql_file: Path, pg_version: str) -> list[str] | None:
    """Rule names squawk reports for the file; None when squawk is not installed."""
    exe = SQUAWK if SQUAWK.exists() else shutil.which("squawk")
    if not exe:
        return None
    proc = subprocess.run([str(exe), "--reporter", "json", f"--pg-version={pg_version}", str(sql_file)],
                          capture_output=True, text=True, timeout=60, check=False)
    return [v["rule_name"] for v in json.loads(proc.stdout or "[]")]


def project(work: Path, pg: Postgres, setup: list[tuple[str, str]]) -> tuple[object, Path]:
    db = pg.new_database()
    folder = make_drizzle_folder(work, [("0000_seed", (CASES / "seed.sql").read_text()), *setup])
    settings = load_settings(work, env={}, database_url=pg.url_of(db), migrations_dir=str(folder), shadow_url=pg.url)
    migrate(settings)
    return settings, folder


def run_cases(pg: Postgres, pg_version: str) -> list[dict]:
    rows = []
    for path in sorted(CASES.glob("*/*.toml")):
        case = tomllib.loads(path.read_text())
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            settings, folder = project(work, pg, [("0001_setup", case["setup"])] if case.get("setup") else [])
            add_migration(folder, "0002_case", case["sql"])
            report = lint_workflow.lint(settings)
            stmts = report.migrations[0].statements
            findings = [f for s in stmts for f in s.findings]
            locks_ok = all((rel, mode) in stmts[i - 1].locks for i, rel, mode in case["expect"]["locks"])
            rewrites_ok = {(s.index, r) for s in stmts for r in s.rewrites} == {tuple(x) for x in case["expect"]["rewrites"]}
            sq = squawk(folder / "0002_case.sql", pg_version)
        rows.append({
            "case": path.stem, "kind": case["kind"],
            "mk_rules": sorted({f.rule for f in findings}),
            "mk_flagged": any(f.severity in ("error", "warning") for f in findings),
            "mk_error": any(f.severity == "error" for f in findings),
            "mk_expected": sorted({f.rule for f in findings if f.severity != "info"}) == sorted(case["expect"]["rules"]),
            "locks": "; ".join(f"{s.index}: {mode} {rel}" for s in stmts for rel, mode in s.locks if rel not in s.new) or "-",
            "rewrites": ", ".join(r for s in stmts for r in s.rewrites) or "-",
            "locks_ok": locks_ok, "rewrites_ok": rewrites_ok,
            "squawk": sq,
            "squawk_core": None if sq is None else [r for r in sq if not r.startswith(STYLE)],
        })
    return rows


def lint_time(pg: Postgres, repeat: int = 3) -> tuple[float, float]:
    """(best of `repeat` runs of the lint workflow, of `migrakit db.lint` as a process), seconds, on 20 pending
    migrations (bench/lint_speed.py's project; the best run: the machine is shared)."""
    from bench.lint_speed import process_seconds
    from bench.lint_speed import project as pending_project

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        settings, folder = pending_project(work, pg)
        inner, outer = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            report = lint_workflow.lint(settings)
            inner.append(time.perf_counter() - t0)
            assert len(report.migrations) == 20
            outer.append(process_seconds(["db.lint", "-m", str(folder), "-u", settings.database_url, "-s", pg.url],
                                         work, None))
    return min(inner), min(outer)


def count(rows: list[dict], kind: str, key: str, test=bool) -> str:
    sel = [r for r in rows if r["kind"] == kind]
    if any(r[key] is None for r in sel):
        return "n/a (squawk not installed)"
    return f"{sum(1 for r in sel if test(r[key]))}/{len(sel)}"


def render(rows: list[dict], times: tuple[float, float], version: str) -> str:
    sq_version = subprocess.run([str(SQUAWK), "--version"], capture_output=True, text=True, check=False).stdout.strip() if SQUAWK.exists() else "not installed"
    lines = [
        "# db.lint vs squawk (bench/lint_compare.py)", "",
        f"PostgreSQL {version}; {sq_version}; {len(rows)} cases from tests/lint_cases/ (seeded tables of 5,000 rows).", "",
        "| | migrakit db.lint | squawk (all default rules) | squawk (without prefer-*/require-*-timeout) |",
        "|---|---|---|---|",
        f"| dangerous flagged | {count(rows, 'dangerous', 'mk_flagged')} | {count(rows, 'dangerous', 'squawk')} | {count(rows, 'dangerous', 'squawk_core')} |",
        f"| safe given an error (fails CI) | {count(rows, 'safe', 'mk_error')} | {count(rows, 'safe', 'squawk')} | {count(rows, 'safe', 'squawk_core')} |",
        f"| cases with exactly the expected rules | {sum(r['mk_expected'] for r in rows)}/{len(rows)} | | |",
        f"| expected locks measured (pg_locks) | {sum(r['locks_ok'] for r in rows)}/{len(rows)} | | |",
        f"| expected rewrites measured (relfilenode) | {sum(r['rewrites_ok'] for r in rows)}/{len(rows)} | | |",
        "",
        f"Lint time, 20 pending migrations (80 statements), best of 3: {times[0]:.2f} s in-process (shadow built, every statement "
        f"probed), {times[1]:.2f} s as `migrakit db.lint` (a new process, Python start-up included).", "",
        "| case | kind | migrakit findings | locks on existing relations (measured) | rewrites | squawk |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        sq = "n/a" if r["squawk"] is None else (", ".join(sorted(set(r["squawk"]))) or "-")
        lines.append(f"| {r['case']} | {r['kind']} | {', '.join(r['mk_rules']) or '-'} | {r['locks']} | {r['rewrites']} | {sq} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    with Postgres() as pg:
        version = pg.version()
        major = version.split()[1] if " " in version else version
        rows = run_cases(pg, major.split(".")[0] + ".0")
        times = lint_time(pg)
    text = render(rows, times, version)
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    text += f"\nLoad average while measuring: {load} (2 cores, shared with other jobs).\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lint.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
