"""The project's import graph: no cycles, and stage packages that depend on the core only.

Walks the source with :mod:`ast`, so every import counts: module level, inside functions and
under ``if TYPE_CHECKING``. A cycle is reported as the chain of modules that closes it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("convfail", "analysis", "labeling", "mining", "difftest")
CORE = "convfail"
# Libraries a function may import on first use: heavy to load (seconds, hundreds of MB) or an
# optional extra. Everything else is imported at the top of its module.
HEAVY = {
    "ai_edge_litert",
    "onnx",
    "onnx_ir",
    "dask",
    "distributed",
    "keras",
    "litert_torch",
    "mlxtend",
    "onnx2torch",
    "onnxruntime",
    "onnxscript",
    "playwright",
    "polygraphy",
    "scipy",
    "sklearn",
    "statsmodels",
    "tensorflow",
    "tf2onnx",
    "tf_keras",
    "torch",
    "torchvision",
    "tvm",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports, wherever in the file the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, path.name == "__init__.py", node)
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for candidate in candidates:
            # ``import a.b.c`` and ``from a.b import c`` reach the longest prefix that is a module
            parts = candidate.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            if parts:
                found.add(".".join(parts))
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _targets(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def test_no_import_cycle_anywhere():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_stage_packages_depend_on_the_core_only():
    crossings = sorted(
        f"{source} imports {target}"
        for source, targets in _graph().items()
        for target in targets
        if source.split(".")[0] != CORE and target.split(".")[0] not in (CORE, source.split(".")[0])
    )
    assert not crossings, crossings


def test_the_core_imports_no_stage():
    leaks = sorted(
        f"{source} imports {target}"
        for source, targets in _graph().items()
        if source.split(".")[0] == CORE
        for target in targets
        if target.split(".")[0] != CORE
    )
    assert not leaks, leaks


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}}, [["a", "b", "c"]]),
    ],
)
def test_the_cycle_finder_can_fail(graph, expected):
    assert _cycles(graph) == expected


def test_function_local_and_type_checking_imports_count(tmp_path, monkeypatch):
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from convfail import paths\n"
        "def f():\n    import convfail.errors\n"
    )
    modules = {"convfail.paths": Path(), "convfail.errors": Path(), "convfail": Path()}
    assert _targets("x.m", source, modules) == {"convfail", "convfail.paths", "convfail.errors"}


def _imports(path: Path) -> tuple[list[tuple[int, str]], set[str]]:
    """Imports inside function bodies as (line, module), and the modules imported elsewhere.

    Modules are dotted names; a relative import is named ``"."`` (always project-internal).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    local: list[tuple[int, str]] = []
    in_functions: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import | ast.ImportFrom) and id(sub) not in in_functions:
                    in_functions.add(id(sub))
                    local += [(sub.lineno, name) for name in _names(sub)]
    module_level = {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in in_functions
        for name in _names(node)
    }
    return sorted(local), module_level


def _names(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return ["."] if node.level else [node.module or ""]


def _heavy_project_modules(modules: dict[str, Path]) -> set[str]:
    """Project modules that load a heavy library when imported, directly or through another."""
    top = {name: _imports(path)[1] for name, path in modules.items()}
    heavy = {n for n, imported in top.items() if any(m.split(".")[0] in HEAVY for m in imported)}
    changed = True
    while changed:
        changed = False
        for name, imported in top.items():
            if name not in heavy and any(m in heavy for m in imported):
                heavy.add(name)
                changed = True
    return heavy


def _has_reason(lines: list[str], lineno: int) -> bool:
    """A comment says why the import is local: on its line, or above its block of imports."""
    if "#" in lines[lineno - 1]:
        return True
    for line in reversed(lines[: lineno - 1]):
        text = line.strip()
        if text.startswith("#") or (text.startswith("try:") and "#" in text):
            return True
        if not (text.startswith(("import ", "from ")) or text == "try:"):
            return False
    return False


def test_function_local_imports_are_heavy_libraries_with_a_reason():
    modules = _modules()
    heavy = HEAVY | _heavy_project_modules(modules)
    offenders = []
    files = [p for package in (*PACKAGES, "benchmarks") for p in (ROOT / package).rglob("*.py")]
    for path in sorted(files):
        lines = path.read_text(encoding="utf-8").splitlines()
        for lineno, module in _imports(path)[0]:
            where = f"{path.relative_to(ROOT)}:{lineno}"
            if module.split(".")[0] not in heavy and module not in heavy:
                offenders.append(f"{where}: {module} (import it at the top of the module)")
            elif not _has_reason(lines, lineno):
                offenders.append(f"{where}: {module} (say in a comment why it is imported here)")
    assert not offenders, "\n".join(offenders)
