"""A change written as its lock-safe sequence, for db.generate and db.baseline: the statements through the fixer
(core/fix: one migration, or several where a step cannot share a transaction), named `NAME`, `NAME_2`, ...,
and linted on a shadow database before anything is written (`measure`). [I/O]"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from migrakit.core.fix import render_migration, safe_sequence
from migrakit.core.migration import Migration, drizzle_hash
from migrakit.core.project import ProjectFiles
from migrakit.core.reports.lint import finding_lines
from migrakit.core.settings import Settings
from migrakit.db.connect import session
from migrakit.workflows.steps import measure as steps
from migrakit.workflows.steps.options import target_options


@dataclass(frozen=True)
class Pieces:
    """The migrations a change becomes: their names and bodies, and what the fixer changed (its summaries)."""

    names: list[str]
    bodies: list[str]
    fixes: list[str]


def pieces(name: str, statements: Sequence[str]) -> Pieces:
    """`statements` as their lock-safe sequence: the first migration named `name`, the others `name_2`, ..."""
    sequence = safe_sequence(statements)
    names = [name] + [f"{name}_{k}" for k in range(2, len(sequence.migrations) + 1)]
    return Pieces(names, [render_migration(texts) for texts in sequence.migrations],
                  [c.summary for c in sequence.changes])  # fmt: skip


def lint(settings: Settings, src: ProjectFiles, base: list[Migration], chosen: list[Migration], files: list[str],
         legacy_ran: bool = False) -> list[str]:  # fmt: skip
    """db.lint's finding lines on `chosen` (migrations not run anywhere yet) measured on a shadow that first gets
    `base`, each line naming the file `files[i]` its migration is (or will be) written to. The shadow is made on
    the configured shadow server, else on the target's server (as db.generate makes its own)."""
    own = None if settings.shadow_url else session.resolve_target(target_options(settings)).url
    on = settings if own is None else replace(settings, shadow_url=own)
    report = steps.measure(on, src, base, chosen, legacy_ran=legacy_ran)
    lines: list[str] = []
    for m, file in zip(chosen, files, strict=True):
        only = replace(report, migrations=[lm for lm in report.migrations if lm.tag == m.tag])
        lines += [line.replace(f"{m.path}:", f"{file}:") for line in finding_lines(only)]
    return lines


def drafts(p: Pieces) -> list[Migration]:
    """The pieces as migrations not written yet (for `lint` before anything is on disk)."""
    return [Migration(n, 0, f"{n} (not written yet)", b, drizzle_hash(b.encode()))
            for n, b in zip(p.names, p.bodies, strict=True)]  # fmt: skip
