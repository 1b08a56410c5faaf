"""One meaning per short flag across the whole CLI (issue 13, item 8): every task's parser is walked, each short
flag must stand for the same long option everywhere, never shadow an Invoke core flag, and match the table in
docs/MIGRATION_GUIDE.md."""

import re
from pathlib import Path

from invoke import Program
from invoke.parser import Parser

from migrakit.tasks import ns
from migrakit.tasks._run import SHORT_FLAGS

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "MIGRATION_GUIDE.md"


def all_tasks(collection, prefix=""):
    for name, task in collection.tasks.items():
        yield prefix + name, task
    for name, sub in collection.collections.items():
        yield from all_tasks(sub, f"{prefix}{name}.")


def flags_of(task):
    """{short letter: long name} of a task's options, from the parser context Invoke builds for it."""
    out = {}
    for arg in task.get_arguments():
        longs = [n for n in arg.names if len(n) > 1]
        for short in (n for n in arg.names if len(n) == 1):
            out[short] = longs[0]
    return out


def test_each_short_flag_means_one_long_option_in_every_task():
    meanings: dict[str, set[tuple[str, str]]] = {}
    for name, task in all_tasks(ns):
        for short, long in flags_of(task).items():
            meanings.setdefault(short, set()).add((long, name))
    assert meanings, "no task has a short flag"
    clashes = {s: sorted(uses) for s, uses in meanings.items() if len({long for long, _ in uses}) > 1}
    assert clashes == {}
    assert {s: next(iter(uses))[0] for s, uses in meanings.items()} == {v: k for k, v in SHORT_FLAGS.items() if v in meanings}


def test_no_short_flag_shadows_an_invoke_core_flag():
    core = {n for arg in Program().core_args() for n in arg.names if len(n) == 1}
    assert {"d", "h"} <= core  # -d (--debug) and -h (--help) work after a task name too
    assert set(SHORT_FLAGS.values()) & core == set()


def test_every_option_with_a_listed_long_name_has_its_short_flag():
    for name, task in all_tasks(ns):
        for arg in task.get_arguments():
            if arg.names[0] in SHORT_FLAGS:
                assert SHORT_FLAGS[arg.names[0]] in arg.names, (name, arg.names)


def test_the_parser_gives_each_short_flag_its_long_meaning():
    program = Program(namespace=ns)
    parser = Parser(contexts=ns.to_contexts(), initial=program.initial_context)
    checked = 0
    for name, task in all_tasks(ns):
        for short, long in flags_of(task).items():
            arg = next(a for a in task.get_arguments() if long in a.names)
            argv = [name, f"-{short}"] + ([] if arg.kind is bool else ["VALUE"])
            parsed = parser.parse_argv(argv)
            context = next(c for c in parsed if c.name == name)
            assert context.args[arg.name].value == (True if arg.kind is bool else "VALUE"), (name, short)
            checked += 1
    assert checked >= 40


def test_the_guide_lists_exactly_these_short_flags():
    text = GUIDE.read_text(encoding="utf-8").split("### Short flags", 1)[1].split("\n#", 1)[0]
    rows = dict(re.findall(r"^\| `-(\w)` \| `--([a-z-]+)` \|", text, re.M))
    assert rows == {v: k for k, v in SHORT_FLAGS.items()}
