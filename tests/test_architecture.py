"""The rules of the layout (docs/layout.md), checked statically over `utils/`:

1. argparse stays at the edge: only the edge modules (`EDGE`) import it, and no library module
   names `argparse.Namespace` or takes or returns one. The scripts turn their flags into one typed
   config (`ProbeConfig`, `AnalysisConfig`) that the library takes.
2. No import cycle among `utils` modules at module level. Imports inside a function body run only
   when it is called, which is how a cycle is legitimately broken (a lazy import), so they do not
   count; imports at module level, in a class body, or under a module-level `if`/`try` do,
   except under `if TYPE_CHECKING:`, which never runs.
3. Asking models never imports the analysis, the study runner or the report, lazily or not
   (`utils/probing` and `utils/core` import neither `utils.analysis`, `utils.study` nor
   `utils.report`), so a probing run loads none of their code.
4. No global state and no second ways: no `hasattr` (the interfaces say what every object has), no
   `os.chdir`, no process-wide seed (`torch.manual_seed`, `np.random.seed`, `random.seed`), and no
   module-level statement that changes the process (`csv.field_size_limit`, `matplotlib.use`,
   rcParams, `logging.basicConfig`, `sys.path`: a bare call at module level is refused).
5. One meaning per module name: two modules of `utils` share a file name only where they are the
   same thing in parallel folders (`SHARED_NAMES`).

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
# the modules that may import argparse: the command line of each half, and the flag parser itself
EDGE = ("utils/core/flag_parser.py", "utils/probing/cli.py", "utils/analysis/cli.py")
# the halves that ask models, and what they may never import
ASKING = ("utils/probing", "utils/core")
NOT_FOR_ASKING = ("utils.analysis", "utils.study", "utils.report")
FORBIDDEN_CALLS = ("hasattr", "os.chdir", "torch.manual_seed", "torch.random.manual_seed", "np.random.seed",
                   "numpy.random.seed", "random.seed")
# file names two modules may share: the same thing in parallel folders (a backend of each kind,
# each half's command line, our reading of answers and RQ2 beside the paper's)
SHARED_NAMES = {"__init__.py", "backend.py", "cli.py", "answers.py", "rules.py", "rq2.py"}


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


# -- checker 3: what asking models imports --------------------------------------------------------
def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, inside functions too."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            out += [(node.lineno, node.module or "")]
    return out


def forbidden_imports(folders: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{p}:{line} imports {mod}" for folder in folders for p in sorted(folder.rglob("*.py"))
            for line, mod in imports_of(p) if any(mod == f or mod.startswith(f + ".") for f in forbidden)]


def argparse_outside(root: Path, edge: tuple[str, ...]) -> list[str]:
    return [f"{p.relative_to(root)}:{line}" for p in sorted((root / "utils").rglob("*.py"))
            if str(p.relative_to(root)) not in edge for line, mod in imports_of(p) if mod == "argparse"]


# -- checker 4: global state and second ways ---------------------------------------------------------
def _dotted(node: ast.expr) -> str:
    return ast.unparse(node)


def state_violations(folder: Path) -> list[str]:
    """`file:line what` for each forbidden call anywhere, and each bare call at module level."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _dotted(node.func) in FORBIDDEN_CALLS:
                found.append(f"{path}:{node.lineno} {_dotted(node.func)}()")
        for node in tree.body[1 if ast.get_docstring(tree) else 0:]:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                found.append(f"{path}:{node.lineno} module-level call {_dotted(node.value.func)}()")
    return found


# -- checker 5: one meaning per name ----------------------------------------------------------------
def name_clashes(folder: Path, shared: set[str]) -> dict[str, list[str]]:
    by_name: dict[str, list[str]] = {}
    for p in sorted(folder.rglob("*.py")):
        by_name.setdefault(p.name, []).append(str(p.relative_to(folder)))
    return {n: ps for n, ps in by_name.items() if len(ps) > 1 and n not in shared}


# -- the tests -----------------------------------------------------------------------------------
def test_asking_models_never_imports_the_analysis():
    assert forbidden_imports([ROOT / p for p in ASKING], NOT_FOR_ASKING) == []


def test_argparse_only_at_the_edge():
    assert all((ROOT / e).is_file() for e in EDGE), EDGE
    assert argparse_outside(ROOT, EDGE) == []


def test_no_global_state_and_no_hasattr():
    assert state_violations(ROOT / "utils") == []


def test_one_meaning_per_module_name():
    assert name_clashes(ROOT / "utils", SHARED_NAMES) == {}


def test_the_new_checkers_find_what_they_forbid(tmp_path):
    pkg = _package(tmp_path / "utils", {
        "__init__.py": "",
        "probing/__init__.py": "",
        "probing/asks.py": "def f():\n    from utils.analysis import scoring  # lazy, still forbidden\n",
        "probing/state.py": '"""doc."""\nimport csv, torch\ncsv.field_size_limit(1)\ndef g(x):\n'
                            '    torch.manual_seed(0)\n    return hasattr(x, "stop")\n',
        "probing/config.py": "import argparse\n",
        "study/config.py": "",
    })
    assert forbidden_imports([pkg / "probing"], NOT_FOR_ASKING) == [f"{pkg / 'probing' / 'asks.py'}:2 imports "
                                                                    "utils.analysis"]
    assert argparse_outside(tmp_path, EDGE) == ["utils/probing/config.py:1"]
    assert sorted(v.split(" ", 1)[1] for v in state_violations(pkg)) == [
        "hasattr()", "module-level call csv.field_size_limit()", "torch.manual_seed()"]
    assert name_clashes(pkg, SHARED_NAMES) == {"config.py": ["probing/config.py", "study/config.py"]}

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
