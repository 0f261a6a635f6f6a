"""Opening a checkout of the paper's public release and running its own prompt code, at run time.

`--protocol release --release-dir PATH` asks a model exactly as the release did; none of its text
lives in this project, all is read from `PATH` by the release's own functions. Its `utils/common.py`
is compiled without its third-party imports (the prompt functions use only the standard library, and
an API run need not import torch). Its relative paths are read from `PATH` through the module's own
`open`, which writes nothing, so no working directory changes. What it sends (message list, call
keywords, argparse defaults) is read from its syntax tree; a release of another shape is refused.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import hashlib
import locale
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from utils.core.errors import UserError
from utils.core.git import git_head

RELEASE_URL = "https://github.com/nlply/global-opinion-alignment"
COMMON = "utils/common.py"
WVS = "utils/wvs.py"
PROMPT_FUNCTIONS = ("read_file_to_string", "get_prompt_of_rq1", "get_prompt_of_rq2",
                    "get_api_expressed_distribution", "get_llm_expressed_distribution")
# what the commit hash covers when the checkout has no .git: every file the protocol may read
HASHED = ("utils/*.py", "code/RQ*/prob_by_*.py", "dataset/questions/WV7_*.jsonl", "inputs/few_shot/*.txt",
          "inputs/sensitivity/*.txt")


@dataclass(frozen=True)
class ReleaseCheckout:
    """An opened release: its folder, its commit, its `utils/common.py` (the prompt functions,
    compiled once) and `utils/wvs.py` (the questionnaire reader) as modules."""

    root: Path
    commit: str
    common: types.ModuleType = field(compare=False, repr=False)
    wvs: types.ModuleType = field(compare=False, repr=False)
    common_code: types.CodeType = field(compare=False, repr=False)

    def path(self, relative: str) -> Path:
        return self.root / relative

    def module(self, names: dict[str, object] | None = None) -> types.ModuleType:
        """A fresh copy of `utils/common.py` to run, with `names` set as its globals."""
        return _run(self.common_code, self.root, "common", names)

    @contextlib.contextmanager
    def reading(self, examples: str | None = None, names: dict[str, object] | None = None):
        """A fresh copy of the prompt module, its globals set from `names`; with `examples` (the sensitivity
        variants) every file `read_file_to_string` reads is `examples` instead; a missing one is a UserError."""
        module = self.module(names)
        original = module.read_file_to_string

        def read(name):
            target = examples or name
            if not (self.root / target).is_file():
                raise UserError(f"--release-dir {self.root} lacks {target}, which the release's prompts read; "
                                f"use a complete checkout of {RELEASE_URL}")
            text = original(target)
            if text != (self.root / target).read_text(encoding="utf-8"):
                raise UserError(f"the release reads {target} in this locale's encoding "
                                f"({locale.getpreferredencoding(False)}), not UTF-8; run with PYTHONUTF8=1")
            return text

        module.read_file_to_string = read
        try:
            yield module
        except NameError as exc:
            raise UserError(f"{self.root / COMMON} needs {exc.name!r}, which it does not define (or a "
                            "third-party name this project leaves out when it loads the release)") from None


def open_release(path: str | Path) -> ReleaseCheckout:
    """Check `path` is the release and load its prompt functions; any problem is one line."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise UserError(f"--release-dir {path}: no such folder; give a checkout of {RELEASE_URL}")
    root = root.resolve()
    for needed in (COMMON, WVS):
        if not (root / needed).is_file():
            raise UserError(f"--release-dir {root} is not the paper's release: it has no {needed}; "
                            f"give a checkout of {RELEASE_URL}")
    common = root / COMMON
    tree = _parse(common)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    missing = [f for f in PROMPT_FUNCTIONS if f not in defined]
    if missing:
        raise UserError(f"--release-dir {root} is not the paper's release: its {COMMON} defines no "
                        f"{', '.join(missing)}")
    code = _compiled(tree, common)
    commit = git_head(root) or "sha256:" + files_sha256(root)  # without .git: the files in `HASHED`
    return ReleaseCheckout(root, commit, _run(code, root, "common"),
                           _run(_compiled(_parse(root / WVS), root / WVS), root, "wvs"), code)


def _parse(path: Path) -> ast.Module:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not readable Python ({exc}); is the checkout complete?") from None


def _third_party(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name.split(".")[0] not in sys.stdlib_module_names for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and (node.module or "").split(".")[0] not in sys.stdlib_module_names
    return False


def _compiled(tree: ast.Module, path: Path) -> types.CodeType:
    body = [node for node in tree.body if not _third_party(node)]
    return compile(ast.Module(body=body, type_ignores=[]), str(path), "exec")


def _run(code: types.CodeType, root: Path, name: str, names: dict[str, object] | None = None) -> types.ModuleType:
    def open_in_checkout(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+"):
            raise UserError(f"the release's code asked to write {file}; this project only reads the release")
        return builtins.open(root / file, mode, *args, **kwargs)

    module = types.ModuleType(f"paper_release_{name}")
    module.__file__ = code.co_filename
    module.open = open_in_checkout
    exec(code, module.__dict__)  # noqa: S102
    module.__dict__.update(names or {})
    return module


def files_sha256(root: Path) -> str:
    digest = hashlib.sha256()
    files = sorted({p for pattern in HASHED for p in root.glob(pattern) if p.is_file()})
    for p in files:
        data = p.read_bytes()
        digest.update(f"{p.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _function(path: Path, name: str) -> ast.FunctionDef:
    for node in _parse(path).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise UserError(f"{path} defines no {name}; is it the paper's release?")


def message_plan(path: Path, function: str) -> tuple[tuple[str, str | None], ...]:
    """The `messages = [...]` list `function` sends, as (role, text) with None where its
    instruction parameter goes. Every such list in the function must be the same."""
    fn = _function(path, function)
    params = {a.arg for a in fn.args.args}
    plans = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "messages" for t in node.targets):
            plans.add(_plan(node.value, params, path, function))
    if len(plans) != 1:
        raise UserError(f"{path}: {function} builds {len(plans)} different message lists; this project reads "
                        "exactly one (the release's own shape)")
    return plans.pop()


def _plan(value: ast.expr, params: set[str], path: Path, function: str) -> tuple[tuple[str, str | None], ...]:
    unknown = UserError(f"{path}: {function} builds its messages in a shape this project cannot read")
    if not isinstance(value, ast.List):
        raise unknown
    plan = []
    for entry in value.elts:
        if not isinstance(entry, ast.Dict):
            raise unknown
        fields = {k.value: v for k, v in zip(entry.keys, entry.values) if isinstance(k, ast.Constant)}
        role, content = fields.get("role"), fields.get("content")
        if len(fields) != 2 or not (isinstance(role, ast.Constant) and isinstance(role.value, str)):
            raise unknown
        if isinstance(content, ast.Constant) and isinstance(content.value, str):
            plan.append((role.value, content.value))
        elif isinstance(content, ast.Name) and content.id in params:
            plan.append((role.value, None))
        else:
            raise unknown
    if sum(text is None for _, text in plan) != 1:
        raise unknown
    return tuple(plan)


def call_keywords(path: Path, function: str, method: str) -> list[dict[str, object]]:
    """For each `<x>.<method>(...)` call in `function`, its keywords: constants as values,
    `args.<name>` as the string "args.<name>", anything else as None."""
    calls = []
    for node in ast.walk(_function(path, function)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method:
            calls.append({kw.arg: _keyword_value(kw.value) for kw in node.keywords if kw.arg})
    return calls


def _keyword_value(value: ast.expr) -> object:
    if isinstance(value, ast.Constant):
        return value.value
    if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "args":
        return f"args.{value.attr}"
    return None


def script_default(path: Path, flag: str) -> object:
    """The `default=` of `add_argument(flag, ...)` in a release script (None when not given)."""
    return _argument(path, flag).get("default")


def script_choices(path: Path, flag: str) -> tuple:
    choices = _argument(path, flag).get("choices")
    if not choices:
        raise UserError(f"{path} offers no {flag} choices; is it the paper's release?")
    return tuple(choices)


def _argument(path: Path, flag: str) -> dict[str, object]:
    if not path.is_file():
        raise UserError(f"--release-dir lacks {path}; use a complete checkout of {RELEASE_URL}")
    for node in ast.walk(_parse(path)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument"
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == flag):
            try:
                return {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg in ("default", "choices")}
            except ValueError:
                raise UserError(f"{path}: {flag} has a default or choices this project cannot read") from None
    raise UserError(f"{path} has no {flag} flag; is it the paper's release?")


def split_marker(path: Path, function: str) -> str | None:
    """The text `function` splits a reply on before matching (`reply.split(marker)[1]`), if any."""
    for node in ast.walk(_function(path, function)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "split"
                and len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            return node.args[0].value
    return None
