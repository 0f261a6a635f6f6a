"""Two rules of the layout, checked statically over `utils/` (issue 16, section 5):

1. argparse stays at the edge: no library module names `argparse.Namespace`, imports
   `Namespace` from argparse, or annotates a parameter or return value with a `Namespace`. The
   scripts turn their flags into one typed config (`utils/probing/probe_config.py`'s `ProbeConfig`).
2. No import cycle among `utils` modules at module level. Imports inside a function body run only
   when it is called, which is how a cycle is legitimately broken (a lazy import), so they do not
   count; imports at module level, in a class body, or under a module-level `if`/`try` do,
   except under `if TYPE_CHECKING:`, which never runs.

Each checker takes a root folder, so the tests below also run it on a small broken package made
in `tmp_path` and see it fail.
"""
from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The packages whose modules may not read an argparse namespace: the show_results/ scripts hand
# utils/analysis one `AnalysisConfig` (utils/analysis/config.py), the probing scripts a `ProbeConfig`.
NAMESPACE_FREE_PACKAGES = ("utils/probing", "utils/study", "utils/core", "utils/report", "utils/analysis")

_NAMESPACE = re.compile(r"\bNamespace\b")


# -- checker 1: no Namespace below the scripts -----------------------------------------------------
def namespace_uses(path: Path) -> list[str]:
    """`file:line what` for each place a module uses argparse's Namespace in its code (docstrings
    and comments may talk about it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []

    def hit(node: ast.AST, what: str) -> None:
        found.append(f"{path}:{node.lineno} {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "Namespace" and \
                isinstance(node.value, ast.Name) and node.value.id == "argparse":
            hit(node, "argparse.Namespace")
        elif isinstance(node, ast.ImportFrom) and node.module == "argparse" and \
                any(a.name == "Namespace" for a in node.names):
            hit(node, "from argparse import Namespace")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if arg is not None and arg.annotation is not None and _NAMESPACE.search(ast.unparse(arg.annotation)):
                    hit(arg, f"parameter {arg.arg} of {node.name}() is a Namespace")
            if node.returns is not None and _NAMESPACE.search(ast.unparse(node.returns)):
                hit(node, f"{node.name}() returns a Namespace")
    return found


def namespace_violations(folders: list[Path]) -> list[str]:
    return [v for folder in folders for path in sorted(folder.rglob("*.py")) for v in namespace_uses(path)]


# -- checker 2: no module-level import cycle -------------------------------------------------------
def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _top_level_imports(body: list[ast.stmt]):
    """Import statements that run when the module is imported (not inside functions)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            test = ast.unparse(node.test)
            if test not in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                yield from _top_level_imports(node.body)
            yield from _top_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                yield from _top_level_imports(block)
        elif isinstance(node, (ast.With, ast.ClassDef)):
            yield from _top_level_imports(node.body)


def import_graph(package: Path) -> dict[str, set[str]]:
    """module -> the modules of `package` it imports at module level (`package` is a folder
    holding `__init__.py`; names are dotted from its name, e.g. `utils.study.plan`)."""
    base = package.parent
    modules = {_module_name(p, base): p for p in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    source = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def import_cycles(package: Path) -> list[list[str]]:
    """Every cycle's modules in import order (one per strongly connected group), [] when none."""
    graph = import_graph(package)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(_cycle_through(sorted(group), graph))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def _cycle_through(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One path that starts and ends at the group's first module, for the message."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    return group


# -- the tests -----------------------------------------------------------------------------------
def test_no_library_module_reads_an_argparse_namespace():
    folders = [ROOT / p for p in NAMESPACE_FREE_PACKAGES]
    assert all(f.is_dir() for f in folders), folders
    assert namespace_violations(folders) == []


def test_no_import_cycle_in_utils():
    assert import_cycles(ROOT / "utils") == []


def _package(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_namespace_checker_finds_each_kind_of_use(tmp_path):
    pkg = _package(tmp_path / "lib", {
        "__init__.py": "",
        "a.py": """
            import argparse
            def run(args: argparse.Namespace) -> int:
                return 0
            """,
        "b.py": """
            from argparse import Namespace
            def make() -> "Namespace":
                return Namespace()
            """,
        "clean.py": '''
            """Docstrings may say argparse.Namespace; SimpleNamespace is something else."""
            from types import SimpleNamespace
            def run(config: SimpleNamespace) -> int:
                return 0
            ''',
    })
    found = namespace_violations([pkg])
    assert sorted(v.split(" ", 1)[1] for v in found) == [
        "argparse.Namespace", "from argparse import Namespace", "make() returns a Namespace",
        "parameter args of run() is a Namespace"]
    assert not any("clean.py" in v for v in found)


def test_cycle_checker_finds_a_cycle_and_ignores_lazy_imports(tmp_path):
    pkg = _package(tmp_path / "lib", {
        "__init__.py": "",
        "sub/__init__.py": "",
        "sub/config.py": "from lib.sub import analyses\n",
        "sub/analyses.py": "from .plan import helper\n",
        "sub/plan.py": "import lib.sub.config\ndef helper():\n    from lib import lazy\n",
        "lazy.py": "from lib.sub.plan import helper\n",  # a cycle only through a function body
        "typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lib import typed2\n",
        "typed2.py": "from lib import typed\n",  # a cycle only through TYPE_CHECKING
    })
    assert import_cycles(pkg) == [["lib.sub.analyses", "lib.sub.plan", "lib.sub.config", "lib.sub.analyses"]]
    (pkg / "sub" / "plan.py").write_text("def helper():\n    import lib.sub.config\n", encoding="utf-8")
    assert import_cycles(pkg) == []
