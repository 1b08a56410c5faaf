"""The program running migrakit's tasks: `migrakit` (tasks/cli.py), or Invoke's own `inv` when a project's tasks.py
imports migrakit's collections, under any name it mounted them. Two things depend on it:

- typos: an unknown task or option exits 2 (Invoke's own parse errors exit 1, the code of a failed migration),
  naming the closest tasks or options (difflib);
- hints: every `inv db.x` in what migrakit prints names the program the user ran and the task's name there
  (`migrakit db.x`; `inv db.x`; `inv migrations.x` where a project mounted migrakit's `db` as `migrations`).
  tasks/_run.py applies `retarget` to everything it prints: the one place.

`migrakit` is a Program of migrakit's own. `inv` is Invoke's (`invoke.main.program`): it imports the project's
tasks.py, and with it migrakit's collections, while it runs; importing `migrakit.tasks` then `adopt`s that
running instance (its parse steps, not Invoke's class: other Programs in the process are left alone). A Program
of a project's own that loads migrakit's collections can call `adopt(program)` itself.
"""

from __future__ import annotations

import ast
import difflib
import re
import sys
from collections.abc import Callable
from typing import Any

from invoke import Collection, Program
from invoke.exceptions import Exit, ParseError

_current: Program | None = None  # the Program whose run is under way (set by adopt, cleared when its run ends)
# each of migrakit's task functions -> the task's name in migrakit's collection (register); by the function, as
# Invoke deep-copies the Task objects of a tasks.py's collection (deepcopy keeps functions as they are)
_ours: dict[Callable[..., Any], str] = {}
_names: dict[str, str] = {}  # migrakit's task name -> its name in _current's collection (filled on first use)
# long name -> short name (or None) of each Invoke core flag `migrakit` does not take (tasks/cli.py); never
# suggested for a typo under `inv` either: `--dry` is no dry run of migrakit's tasks
DROPPED = {
    "dry": "R",
    "echo": "e",
    "hide": None,
    "pty": "p",
    "warn-only": "w",
    "prompt-for-sudo-password": None,
    "command-timeout": "T",
    "config": "f",
}
_UNKNOWN = re.compile(r"^No idea what (.+) is!$")
_HINT = re.compile(r"\binv (?P<task>(?:db|legacy|env)\.[a-z][a-z-]*|dev|build)(?![\w-])")


def register(collection: Collection) -> None:
    """migrakit's own collection (tasks/__init__.py's `ns`): the task names hints use (`db.migrate`, `dev`)."""
    _ours.update({collection[name].body: name for name in collection.task_names})


def adopt(program: Program) -> None:
    """Make `program` the one hints name, and its parse errors exit 2 with the closest names, for its run."""
    global _current
    _current = program
    _names.clear()
    if getattr(program, "_migrakit_adopted", False):  # `migrakit` run again in one process (tests)
        return
    program._migrakit_adopted = True  # type: ignore[attr-defined]
    for step in ("parse_core", "parse_tasks", "parse_cleanup"):
        setattr(program, step, _usage_errors(program, getattr(program, step)))
    run = program.run

    def run_then_forget(*args: Any, **kwargs: Any) -> None:
        try:
            run(*args, **kwargs)
        finally:
            forget(program)

    program.run = run_then_forget  # type: ignore[method-assign]


def forget(program: Program) -> None:
    global _current
    if _current is program:
        _current = None
        _names.clear()


def adopt_running_inv() -> None:
    """Adopt Invoke's `inv` Program when it is the one importing migrakit's collections (its run has begun)."""
    main = sys.modules.get("invoke.main")
    program = getattr(main, "program", None)
    if isinstance(program, Program) and program.argv and _current is not program:
        adopt(program)


def _usage_errors(program: Program, step: Callable[..., None]) -> Callable[..., None]:
    def checked(*args: Any, **kwargs: Any) -> None:
        try:
            step(*args, **kwargs)
        except ParseError as exc:
            raise usage_error(program, exc) from None

    return checked


def program_name(program: Program) -> str:
    """How the user called it: `migrakit`, `inv` or `invoke` (the binary's name when argv says nothing)."""
    return program.called_as or ("migrakit" if program.name == "migrakit" else "inv")


def usage_error(program: Program, exc: ParseError) -> Exit:
    """Invoke's parse error as migrakit's: exit 2; an unknown task or option names the closest ones."""
    prog = program_name(program)
    found = _UNKNOWN.match(str(exc))
    if found is None:
        return Exit(f"error: {exc}\n  fix:    `{prog} --help TASK` shows a task's options", code=2)
    try:
        word = str(ast.literal_eval(found.group(1)))
    except (ValueError, SyntaxError):
        word = found.group(1)
    context = exc.context
    task = getattr(context, "name", None)
    if word.startswith("-"):
        flags = list(getattr(context, "flags", {})) + list(program.initial_context.flags)
        close = _closest(word, [f for f in flags if f.startswith("--") and f[2:] not in DROPPED])
        where = f" for {task}" if task else ""
        listed = f"`{prog} --help {task}` lists its options" if task else f"`{prog} --help` lists the options"
        guess = f"did you mean {' or '.join(close)}? " if close else ""
        return Exit(f"error: unknown option {word!r}{where}\n  fix:    {guess}({listed})", code=2)
    collection = getattr(program, "collection", None)
    names = [n for primary, aliases in collection.task_names.items() for n in (primary, *aliases)] if collection else []
    close = _closest(word, names)
    guess = f"did you mean {' or '.join(f'`{prog} {n}`' for n in close)}? " if close else ""
    return Exit(f"error: unknown task {word!r}\n  fix:    {guess}(`{prog} --list` lists every task)", code=2)


def _closest(word: str, choices: list[str]) -> list[str]:
    """Up to three choices nearest `word`, nearest first (dashes and case aside)."""
    key = {c.lstrip("-").lower(): c for c in choices}
    return [key[k] for k in difflib.get_close_matches(word.lstrip("-").lower(), list(key), n=3, cutoff=0.6)]


def retarget(text: str) -> str:
    """`text` with each `inv db.x` (and `inv dev`, `inv build`) naming the program the user ran and the task's
    name in its collection. Unchanged when no program runs (a library call) or the program is `inv` with
    migrakit's own names."""
    if _current is None:
        return text
    prog = program_name(_current)
    names = _called_names(_current)
    return _HINT.sub(lambda m: f"{prog} {names.get(m['task'], m['task'])}", text)


def _called_names(program: Program) -> dict[str, str]:
    """migrakit's task names (`db.migrate`) -> the names they have in `program`'s collection (`migrations.migrate`
    where the project mounted `db` under that name): the same task functions."""
    collection = getattr(program, "collection", None)
    if not _names and collection is not None:
        for name in collection.task_names:
            mine = _ours.get(collection[name].body)
            if mine is not None:
                _names.setdefault(mine, name)
    return _names
