"""The `migrakit` console script: the same collections as `inv`, without a tasks.py, and without Invoke's
execution flags.

`migrakit` keeps `--help`, `--version`, `--list` (with `--list-depth`/`--list-format`), `--complete` and
`--print-completion-script`, and `-d/--debug` (Invoke's own log; migrakit redacts passwords from it). It
drops the flags that steer shell commands (`--dry`, `--echo`, `--hide`, `--pty`, `--warn-only`,
`--prompt-for-sudo-password`, `--command-timeout`) and `--config`: they change nothing migrakit does, and
`--dry` reads as "dry run" while the migrations would still be applied. Given one, `migrakit` exits 2 and
names the task option meant (`--dry-run`). Unlike Invoke, `migrakit` leaves Python's bytecode cache as Python
sets it (`--write-pyc` is then the default). `inv` keeps Invoke as it is (see docs/MIGRATION_GUIDE.md).
"""

from __future__ import annotations

import sys
from typing import Any

from invoke import Program
from invoke.exceptions import Exit

from migrakit import __version__
from migrakit.tasks import ns
from migrakit.tasks._program import DROPPED, adopt  # adopt: also for a Program of a project's own (see the guide)


def dropped_flag_error(flag: str) -> str:
    """The message for a dropped Invoke flag given to `migrakit`."""
    if flag in ("--dry", "-R"):
        return (
            f"error: {flag} is not a migrakit option: in Invoke it echoes shell commands instead of running them, "
            "and migrakit runs its SQL without the shell, so the migrations would still be applied\n"
            "  fix:   for a dry run use the task's own option: `migrakit db.migrate --dry-run` "
            "(also db.migrate-consolidated and db.bootstrap); db.status shows what is pending"
        )
    return (
        f"error: {flag} is one of Invoke's shell-command flags, which `migrakit` does not take (it changes nothing "
        "migrakit does)\n"
        "  fix:   leave it out; `migrakit --help` lists the options, `migrakit --help TASK` a task's"
    )


class MigrakitProgram(Program):
    """Invoke's Program in bundled-namespace mode minus the execution flags (see the module docstring)."""

    def core_args(self) -> list[Any]:
        return [a for a in super().core_args() if not set(a.names) & set(DROPPED)]

    def parse_core(self, argv: list[str] | str | None) -> None:
        args = sys.argv if argv is None else (argv.split() if isinstance(argv, str) else argv)
        _reject_dropped(list(args)[1:])
        python_setting = sys.dont_write_bytecode
        super().parse_core(list(args))
        # Invoke turns Python's bytecode cache off unless --write-pyc, so that a project's tasks.py leaves no .pyc
        # behind. `migrakit` loads no tasks.py, only its own modules: Python's setting stays (PYTHONDONTWRITEBYTECODE,
        # -B), so what a task imports (the workflow, the driver's users, the renderer) is compiled once, not per run.
        sys.dont_write_bytecode = python_setting and not self.args["write-pyc"].value

    def update_config(self, merge: bool = True) -> None:
        """Invoke's, without the overrides of the dropped flags and without a runtime config file."""
        self.config.load_overrides({}, merge=False)
        self.config.set_runtime_path(None)
        self.config.load_runtime(merge=False)
        if merge:
            self.config.merge()


def _reject_dropped(args: list[str]) -> None:
    """Exit 2 for a dropped flag: a long one anywhere (no migrakit task has such an option), a short one
    (alone or in a cluster like `-Rd`) before the first task name, where Invoke reads core flags."""
    longs = {f"--{name}" for name in DROPPED}
    shorts = {short for short in DROPPED.values() if short}
    before_task = True
    for arg in args:
        if arg == "--":
            break
        name = arg.split("=", 1)[0]
        if name in longs:
            raise Exit(dropped_flag_error(name), code=2)
        if before_task and arg.startswith("-") and not arg.startswith("--"):
            hit = next((c for c in arg[1:] if c in shorts), None)
            if hit:
                raise Exit(dropped_flag_error(f"-{hit}"), code=2)
        if not arg.startswith("-"):
            before_task = False


program = MigrakitProgram(namespace=ns, version=__version__, name="migrakit", binary="migrakit")


def main() -> None:
    adopt(program)  # typos exit 2 naming the closest names; hints say `migrakit db.x`
    try:
        program.run()
    except BrokenPipeError:  # `migrakit --help | head` closed stdout early: not worth a traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
