"""README's Quick start runs top to bottom as written (issue 25.6): its bash block, parsed from README.md (so this
test breaks when the README changes), run line by line in a fresh copy of the repository after README's first
command, each line exiting 0. The one journey test: real processes, as a reader types them.

The copy holds the repository's tracked files as they are in this checkout, in a new git repository on `main` (as
a fresh clone is); `.venv` is this test run's virtualenv (migrakit installed), linked rather than built, which is
what `scripts/setup.sh` of README's first command makes; its second half, `.venv/bin/inv build`, runs as written.
The copy's embedded PostgreSQL (`.migrakit/` in the copy) is stopped at the end, also when a line failed."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.fixtures.cli import cli_env

REPO = Path(__file__).parents[2]
LINE_TIMEOUT = 300


def quick_start_lines(readme: str) -> list[str]:
    """The lines of the first ```bash block under `## Quick start`."""
    section = readme[readme.index("\n## Quick start\n") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None, "README's Quick start has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def first_command(readme: str) -> str:
    block = re.search(r"```bash\n(.*?)\n", readme)
    assert block is not None
    return block.group(1).split("#")[0].strip()


def fresh_copy(root: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source, target = REPO / name, root / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)
    (root / ".venv").symlink_to(Path(sys.executable).parents[1])
    git = ["git", "-c", "user.email=quick@start", "-c", "user.name=quick start"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "a fresh clone"]):
        subprocess.run(git + args, cwd=root, check=True, capture_output=True)
    return root


def run(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", line], cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=LINE_TIMEOUT
    )


def session(lines: list[str]) -> str:
    """One bash session running `lines` in order, as a reader pastes them (an `export` holds for the lines after
    it); after each, a marker with its number and exit status on stderr; it stops at the first failing line."""
    script = ["set -u"]
    for number, line in enumerate(lines, 1):
        script += [line, f'rc=$?; echo "{MARK} {number} $rc" >&2; [ "$rc" -eq 0 ] || exit "$rc"']
    return "\n".join(script) + "\n"


MARK = "##quick-start-line"


@pytest.fixture
def workdir():
    """A folder of this test's own, outside pytest's basetemp: pytest deletes old basetemps of the same user when
    another session starts, and this test's embedded PostgreSQL lives for minutes in its copy."""
    with tempfile.TemporaryDirectory(prefix="migrakit-quick-start-") as path:
        yield Path(path)


@pytest.mark.slow
def test_the_quick_start_block_runs_top_to_bottom_in_a_fresh_copy(workdir):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert first_command(readme) == "scripts/setup.sh && .venv/bin/inv build"
    lines = quick_start_lines(readme)
    assert len(lines) >= 10
    copy = fresh_copy(workdir / "migrakit")
    try:
        built = run(".venv/bin/inv build", copy)  # README's first command, after scripts/setup.sh
        assert built.returncode == 0, built.stdout + built.stderr
        result = subprocess.run(
            ["bash", "-c", session(lines)], cwd=copy, env=cli_env(), capture_output=True, text=True,
            timeout=LINE_TIMEOUT * 4,
        )  # fmt: skip
        ran = [tuple(map(int, m)) for m in re.findall(MARK + r" (\d+) (\d+)", result.stderr)]
        failed = next(((n, rc) for n, rc in ran if rc), None)
        assert failed is None and len(ran) == len(lines), (
            f"Quick start stopped at line {failed or len(ran) + 1} of {len(lines)}: "
            f"{lines[(failed or (len(ran) + 1, 0))[0] - 1]}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
        assert "Traceback" not in result.stderr
        assert list((copy / "migrations-consolidated").glob("*.sql")), "db.consolidate --yes wrote no Mode 2 file"
        status = run(".venv/bin/inv db.status --json", copy)  # what the block left: every migration applied
        assert status.returncode == 0 and '"pending_count": 0' in status.stdout, status.stdout + status.stderr
    finally:
        run(".venv/bin/inv db.server-stop", copy)
