"""A project's build commands that call a legacy migration script, and switching them to migrakit's: the
`scripts` of package.json and the commands of `[tool.migrakit.app]` (legacy.retire). Reads files and git."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

from migrakit.core.reports.retire import BuildEdit
from migrakit.core.settings import Settings

REPLACEMENT = "migrakit db.migrate"


def legacy_scripts(settings: Settings) -> list[Path]:
    found: set[Path] = set()
    for pattern in settings.legacy_scripts:
        found.update(p for p in settings.root.glob(pattern) if p.is_file())
    return sorted(found)


_SEPARATORS = re.compile(r"(\s*(?:&&|\|\||;)\s*)")


def switch_command(command: str, scripts: Sequence[str]) -> str:
    """`command` with each `&&`/`||`/`;` segment that runs a legacy script replaced by `migrakit db.migrate`."""
    names = {s for s in scripts} | {Path(s).name for s in scripts}
    parts = _SEPARATORS.split(command)
    for i in range(0, len(parts), 2):
        segment = parts[i]
        if any(re.search(rf"(?:^|[\s/\"'=]){re.escape(n)}(?:$|[\s\"'])", segment) for n in names):
            lead = segment[: len(segment) - len(segment.lstrip())]
            tail = segment[len(segment.rstrip()):]
            parts[i] = f"{lead}{REPLACEMENT}{tail}"
    return "".join(parts)


def build_edits(settings: Settings, scripts: Sequence[str]) -> list[BuildEdit]:
    if not scripts:
        return []
    edits: list[BuildEdit] = []
    package = settings.root / "package.json"
    if package.is_file():
        try:
            data = json.loads(package.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = {}
        for name, command in (data.get("scripts") or {}).items():
            if isinstance(command, str) and (new := switch_command(command, scripts)) != command:
                edits.append(BuildEdit("package.json", f"scripts.{name}", command, new))
    pyproject = settings.root / "pyproject.toml"
    if pyproject.is_file():
        app = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("migrakit", {}).get("app", {})
        for name, command in app.items():
            if isinstance(command, str) and (new := switch_command(command, scripts)) != command:
                edits.append(BuildEdit("pyproject.toml", f"[tool.migrakit.app] {name}", command, new))
    return edits


def apply_build_edit(root: Path, edit: BuildEdit) -> bool:
    """Replace the command's text in place (the rest of the file byte for byte); False when it is not found
    verbatim (escaped in the file): then it is left for the user, and listed."""
    path = root / edit.file
    text = path.read_text(encoding="utf-8")
    quoted_before, quoted_after = (
        json.dumps(edit.before, ensure_ascii=False), json.dumps(edit.after, ensure_ascii=False)
    )
    if quoted_before in text:
        path.write_text(text.replace(quoted_before, quoted_after, 1), encoding="utf-8")
        return True
    return False


def mentions(root: Path, scripts: Sequence[str], skip: set[str]) -> list[str]:
    """Tracked files (other than those in `skip`: removed or switched) that still name a legacy script."""
    import git

    names = sorted({Path(s).name for s in scripts})
    if not names:
        return []
    out: list[str] = []
    for name in names:
        try:
            hits = git.Git(str(root)).grep("-n", "-F", "-I", "-e", name, "--", ".").splitlines()
        except git.GitCommandError:  # git grep exits 1 when nothing matches
            continue
        out += [h.split(":", 2)[0] + ":" + h.split(":", 2)[1] for h in hits if h.split(":", 1)[0] not in skip]
    return sorted(set(out))
