"""The package's shape (docs/architecture.md): every module imports on its own, there are no
import cycles, and each subpackage imports only the layers below it."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "imgval"
TOP = "imgval"  # the top-level modules: __init__ (the version), tomlfile, synthetic; they import no imgval module

# What each layer may import besides itself; docs/architecture.md has the same table.
ALLOWED: dict[str, set[str]] = {
    TOP: set(),
    "storage": {TOP},
    "analysis": {"storage", TOP},
    "dupes": {"analysis", "storage", TOP},
    "batch": {"analysis", "storage", TOP},
    "report": {"dupes", "analysis", "storage", TOP},
    "sync": {"report", "storage", TOP},
    "cli": {"sync", "report", "batch", "dupes", "analysis", "storage", TOP},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "__main__.py"}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else TOP


def imported(module: str, tree: ast.AST, import_time_only: bool) -> set[str]:
    """The imgval modules `module` imports. import_time_only: skip function bodies and
    `if TYPE_CHECKING:` blocks, which do not run when the module is imported."""
    found: set[str] = set()
    is_package = module in MODULES and MODULES[module].name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if import_time_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        if import_time_only and isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "imgval")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] == "imgval":
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


TREES = {name: ast.parse(path.read_text("utf-8"), str(path)) for name, path in MODULES.items()}


def test_every_module_imports_on_its_own():
    """Each module imported first, in a clean interpreter state (no imgval module loaded): an
    import that only works after another module was loaded, or a cycle, fails here."""
    script = (
        "import importlib, sys, traceback\n"
        "failed = []\n"
        f"for name in {sorted(MODULES)!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'imgval' or m.startswith('imgval.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        failed.append(name + ': ' + traceback.format_exc(limit=-3))\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := walk(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := walk(node)):
            return cycle
    return None


def test_no_import_cycles():
    graph = {name: {m for m in imported(name, tree, import_time_only=True) if m in MODULES}
             for name, tree in TREES.items()}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_each_layer_imports_only_downwards():
    """Every import counts here, also those inside functions: a deferred import is still a dependency."""
    wrong = [f"{name} imports {target}" for name, path in MODULES.items()
             for target in layer_violations(name, path.read_text("utf-8"))]
    assert not wrong, "\n".join(wrong)


def layer_violations(name: str, source: str) -> list[str]:
    tree = ast.parse(source)
    return [target for target in sorted(imported(name, tree, import_time_only=False))
            if layer(target) != layer(name) and layer(target) not in ALLOWED[layer(name)]]


def test_the_layer_check_sees_upward_and_deferred_imports():
    source = ("from imgval.analysis import blur\nfrom . import decode\n"
              "def later():\n    from imgval.report.writers import Report\n"
              "if TYPE_CHECKING:\n    from imgval.cli.main import main\n")
    assert layer_violations("imgval.analysis.fake", source) == ["imgval.cli.main", "imgval.report.writers"]
    assert imported("imgval.analysis.fake", ast.parse(source), import_time_only=True) == {
        "imgval.analysis", "imgval.analysis.blur", "imgval.analysis.decode"}


def test_every_subpackage_has_a_layer():
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages == set(ALLOWED) - {TOP}


def test_the_architecture_doc_lists_every_module_and_the_same_layers():
    """docs/architecture.md is where a newcomer looks: its table names every module of each
    layer and the same allowed imports as ALLOWED."""
    rows = {line.split("|")[1].strip(): line.split("|")[2:4]
            for line in (ROOT / "docs" / "architecture.md").read_text("utf-8").splitlines()
            if line.startswith("| `") and line.count("|") == 4}
    for name in ALLOWED:
        key = f"`{name}/`" if name != TOP else "`imgval` (top-level modules)"
        owns, may_import = rows[key]
        folder = PACKAGE / name if name != TOP else PACKAGE
        modules = {p.stem for p in folder.glob("*.py")} - {"__init__", "__main__"}
        missing = [m for m in sorted(modules) if f"`{m}`" not in owns]
        assert not missing, f"docs/architecture.md, row {key}: modules not listed: {missing}"
        words = {w.strip() for w in may_import.split(",")} - {"nothing of imgval"}
        listed = set(ALLOWED) - {name} if words == {"everything"} else {TOP if w == "top" else w for w in words}
        assert listed == ALLOWED[name], f"docs/architecture.md, row {key}: may import {sorted(listed)}"


def documented_names() -> set[str]:
    """Every `imgval.x.y` name and `python -m imgval.x` module the README and docs/ show."""
    import re

    names: set[str] = set()
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text("utf-8")
        names.update(re.findall(r"`(imgval(?:\.\w+)+)`", text))
        names.update(re.findall(r"python -m (imgval(?:\.\w+)+)", text))
    return {n for n in names if not n.endswith((".toml", ".csv", ".json", ".log", ".html"))}


def test_names_the_docs_show_are_importable():
    import importlib

    assert "imgval.analysis.analyze.Settings" in documented_names()  # the search itself works
    unresolved = []
    for name in sorted(documented_names()):
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable module, then attributes
            try:
                target = importlib.import_module(".".join(parts[:cut]))
                break
            except ImportError:
                continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute, None)
        if target is None:
            unresolved.append(name)
    assert not unresolved, f"README/docs name what does not exist: {unresolved}"
