"""scripts/check_imports.py finds the cycles import-linter's layers cannot see and the modules over the limit."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("check_imports", ROOT / "scripts" / "check_imports.py")
assert spec is not None and spec.loader is not None
check_imports = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_imports)


def package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_function_level_and_type_checking_imports_make_a_cycle(tmp_path):
    src = package(tmp_path, {
        "__init__.py": "",
        "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
        "b.py": "def f():\n    from . import c\n",
        "c.py": "import pkg.a\n",
        "d.py": "from pkg import a, e\n",  # d -> a and d -> e: no cycle
        "e.py": "X = 1\n",
    })  # fmt: skip
    graph, _ = check_imports.build_graph(src)
    assert graph["pkg.a"] == {"pkg.b": 3} and graph["pkg.b"] == {"pkg.c": 2} and graph["pkg.c"] == {"pkg.a": 1}
    assert graph["pkg.d"] == {"pkg.a": 1, "pkg.e": 1}
    assert check_imports.cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert check_imports.one_cycle(graph, ["pkg.a", "pkg.b", "pkg.c"]) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]


def test_a_package_importing_its_children_is_no_cycle(tmp_path):
    src = package(tmp_path, {"__init__.py": "from . import a\n", "a.py": "from . import b\n", "b.py": "Y = 2\n"})
    graph, _ = check_imports.build_graph(src)
    assert check_imports.cycles(graph) == []


def test_main_fails_on_a_new_cycle_and_a_long_module(tmp_path, capsys):
    src = package(tmp_path, {
        "__init__.py": "",
        "a.py": "def f():\n    from .b import g\n",
        "b.py": "from .a import f\n" + "x = 1\n" * 400,
    })  # fmt: skip
    assert check_imports.main(["check_imports.py", str(src)]) == 1
    err = capsys.readouterr().err
    assert "import cycle among pkg.a, pkg.b: pkg.a (line 2) -> pkg.b (line 1) -> pkg.a" in err
    assert "pkg.b has 401 lines (limit 400)" in err


def test_main_fails_on_a_package_of_more_than_15_modules(tmp_path, capsys):
    files = {"__init__.py": "", **{f"m{i}.py": "X = 1\n" for i in range(16)}, "sub/__init__.py": "", "sub/a.py": ""}
    src = package(tmp_path, files)  # 16 modules directly, and a sub-package (a room of its own)
    assert check_imports.main(["check_imports.py", str(src)]) == 1
    assert "pkg holds 16 modules directly (limit 15)" in capsys.readouterr().err
    (src / "pkg" / "m0.py").unlink()
    assert check_imports.main(["check_imports.py", str(src)]) == 0


def test_the_source_tree_passes():
    assert check_imports.main(["check_imports.py", str(ROOT / "src")]) == 0
