"""README and docs/ say only what exists: every relative link and picture, every `python` command.

Two checks over README.md and docs/*.md:

1. Links. Every relative `[text](path)` and `![alt](path)` (and every `docs/img/...` picture named
   anywhere) points at a file that exists; an `#anchor` into a Markdown page names one of its
   headings, slugged as GitHub does (`## RQ1 by model: \\`rq1_model_level.py\\`` ->
   `#rq1-by-model-rq1_model_levelpy`). http(s) links and `#anchor`-only links into the page itself
   are checked for the anchor only.
2. Commands. Every command that starts with `python ` in a fenced shell block (bash, sh, shell,
   console), and in an inline code span, names a script that exists and only flags its parser
   accepts. A line may start with `VAR=value` assignments or `/usr/bin/time -v`, continue over
   `\\` line ends, and chain commands with `&&`, `||`, `;` or `|`:

       pip install -r requirements.txt && python code/RQ1/prob_by_llm.py --limit 5
       -> ("code/RQ1/prob_by_llm.py", ["--limit"])

   Flags are checked against the option strings of `python SCRIPT --help` (run once per script,
   without running the script), with `_` and `-` treated alike, as `utils/core/flag_parser.py`
   accepts both spellings. `python -m ...` and `python -c ...` are not scripts and are skipped;
   placeholders such as `<paper-release>` are fine, being values rather than flags.
"""
from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHELL_LANGS = {"bash", "sh", "shell", "console", "zsh"}
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMG_TAG = re.compile(r"<img\s[^>]*src=\"([^\"]+)\"", re.IGNORECASE)
DOCS_IMG = re.compile(r"docs/img/[\w.-]+\.(?:png|jpe?g|gif|svg)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
HELP_OPTION = re.compile(r"^ {2}(-\S.*?)(?: {2,}|$)")


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md and every docs/*.md page."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


# --- Markdown structure ------------------------------------------------------------------------

def split_fences(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(prose lines, [(language, block lines)]): fenced blocks apart from the rest."""
    prose, blocks = [], []
    fence, lang, body = None, "", []
    for line in text.splitlines():
        m = FENCE.match(line)
        if fence is None:
            if m:
                fence, lang, body = m.group(2), m.group(3).lower(), []
            else:
                prose.append(line)
        elif m and m.group(2).startswith(fence[0]) and len(m.group(2)) >= len(fence) and not m.group(3):
            blocks.append((lang, body))
            fence = None
        else:
            body.append(line)
    return prose, blocks


def slug(heading: str) -> str:
    """GitHub's anchor for a heading.

    >>> slug("Three ways to read a model's opinion: `--method`")
    'three-ways-to-read-a-models-opinion---method'
    """
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())  # a link in a heading keeps its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


@functools.lru_cache(maxsize=None)
def anchors(path: Path) -> frozenset[str]:
    """Every heading anchor of a Markdown page, with GitHub's -1, -2 for repeats."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for line in prose:
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return frozenset(out)


def link_targets(text: str) -> list[str]:
    """Link and picture targets outside code (code may hold `[x](y)`-looking text)."""
    prose, _ = split_fences(text)
    body = INLINE_CODE.sub("", "\n".join(prose))
    return LINK.findall(body) + IMG_TAG.findall(body)


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Why each bad link of one page is bad; empty when all are good."""
    text = path.read_text(encoding="utf-8")
    problems = []
    for target in link_targets(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{target}: no such file ({dest.relative_to(root) if dest.is_relative_to(root) else dest})")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{target}: no heading with anchor #{anchor} in {dest.name}")
    for name in DOCS_IMG.findall(text):
        if not (root / name).exists():
            problems.append(f"{name}: no such picture")
    return problems


# --- Commands ----------------------------------------------------------------------------------

def shell_lines(text: str) -> list[str]:
    """Logical command lines: shell blocks (with `\\` continuations joined) and inline code spans."""
    prose, blocks = split_fences(text)
    lines = []
    for lang, body in blocks:
        if lang not in SHELL_LANGS:
            continue
        current = ""
        for raw in body:
            raw = raw.rstrip()
            if lang == "console" and not current:
                if not raw.lstrip().startswith("$ "):
                    continue  # output, not a command
                raw = raw.lstrip()[2:]
            if raw.endswith("\\"):
                current += raw[:-1] + " "
                continue
            lines.append(current + raw)
            current = ""
        if current:
            lines.append(current)
    for line in prose:
        lines += [m.group(2).strip() for m in INLINE_CODE.finditer(line) if m.group(2).strip().startswith("python ")]
    return lines


def _tokens(line: str) -> list[str]:
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)
    except ValueError:  # unbalanced quotes: good enough to split on spaces
        return line.split("#", 1)[0].split()


def python_commands(line: str) -> list[tuple[str, list[str]]]:
    """(script, flags) for each `python SCRIPT ...` command of a line.

    >>> python_commands("FOO=1 /usr/bin/time -v python a.py --x 1 [--y] && python -m pytest -q; python b.py --z=3")
    [('a.py', ['--x', '--y']), ('b.py', ['--z'])]
    """
    segments: list[list[str]] = [[]]
    for tok in _tokens(line):
        if tok and set(tok) <= set(";&|"):
            segments.append([])
        else:
            segments[-1].append(tok)
    out = []
    for seg in segments:
        while seg and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", seg[0]):
            seg = seg[1:]
        if seg and seg[0] in ("time", "/usr/bin/time"):
            seg = seg[1:]
            while seg and seg[0].startswith("-"):
                seg = seg[2:] if seg[0] in ("-f", "-o", "--format", "--output") else seg[1:]
        if len(seg) < 2 or seg[0] not in ("python", "python3") or seg[1].startswith("-"):
            continue  # not python, or python -m / -c: not a script
        flags = []
        for tok in seg[2:]:
            m = re.match(r"^\[?(--[A-Za-z0-9][\w-]*)", tok)
            if m:
                flags.append(m.group(1))
        out.append((seg[1], flags))
    return out


def norm(flag: str) -> str:
    return flag.replace("_", "-")


def help_flags(help_text: str) -> set[str]:
    """The long option strings an argparse `--help` lists, in the normalized spelling."""
    flags = set()
    for line in help_text.splitlines():
        m = HELP_OPTION.match(line)
        if m:
            flags |= {norm(f) for f in re.findall(r"--[A-Za-z0-9][\w-]*", m.group(1))}
    return flags


@functools.lru_cache(maxsize=None)
def script_help(script: Path) -> tuple[int, str]:
    """(exit code, output) of `python SCRIPT --help`, run from the repository root."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def command_problems(commands: list[tuple[str, str, list[str]]], root: Path = ROOT) -> list[str]:
    """Why each (where, script, flags) is wrong: a missing script, a failing --help, an unknown flag."""
    scripts = sorted({root / s for _, s, _ in commands if (root / s).is_file()})
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        helps = dict(zip(scripts, pool.map(script_help, scripts)))
    problems = []
    for where, script, flags in commands:
        path = root / script
        if not path.is_file():
            problems.append(f"{where}: python {script}: no such script")
            continue
        code, text = helps[path]
        if code != 0:
            problems.append(f"{where}: python {script} --help failed (exit {code}): {text.strip()[-300:]}")
            continue
        known = help_flags(text) | {"--help"}
        bad = [f for f in flags if norm(f) not in known]
        if bad:
            problems.append(f"{where}: python {script}: unknown flag(s) {', '.join(bad)}")
    return problems


def doc_commands(paths: list[Path], root: Path = ROOT) -> list[tuple[str, str, list[str]]]:
    out = []
    for path in paths:
        for line in shell_lines(path.read_text(encoding="utf-8")):
            for script, flags in python_commands(line):
                out.append((str(path.relative_to(root)), script, flags))
    return out


# --- Tests -------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", doc_files(), ids=lambda p: p.name)
def test_links_and_pictures_exist(page):
    problems = broken_links(page)
    assert not problems, "\n".join(problems)


def test_python_commands_name_real_scripts_and_flags():
    commands = doc_commands(doc_files())
    assert len(commands) > 50, "the docs' commands were not found: is the block parser broken?"
    problems = command_problems(commands)
    assert not problems, "\n".join(problems)


def test_readme_is_a_front_page():
    readme = ROOT / "README.md"
    assert readme.stat().st_size <= 15000
    text = readme.read_text(encoding="utf-8")
    for page in doc_files()[1:]:
        assert f"](docs/{page.name}" in text, f"README does not link docs/{page.name}"


def test_the_checkers_catch_mistakes(tmp_path):
    (tmp_path / "docs" / "img").mkdir(parents=True)
    (tmp_path / "docs" / "img" / "ok.png").write_bytes(b"")
    (tmp_path / "tool.py").write_text(
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--alpha-beta')\n"
        "p.add_argument('--flag', action='store_true')\np.parse_args()\nraise SystemExit('ran')\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n\n## A section: `x.py`\n\n"
        "[ok](../tool.py) [ok anchor](#a-section-xpy) [web](https://example.org/none) ![ok](img/ok.png)\n"
        "[missing](../nope.md) ![missing picture](img/gone.png) [bad anchor](page.md#nowhere)\n"
        "Also named in text: docs/img/absent.png. In code, not a link: `[x](nowhere.md)`.\n\n"
        "```bash\n"
        "pip install x && python tool.py --alpha_beta 1 \\\n    --flag   # both spellings, continued\n"
        "FOO=1 /usr/bin/time -v python tool.py --gamma <placeholder>\n"
        "python missing_script.py --x\n"
        "python -m pytest -q --whatever\n"
        "```\n\n"
        "```\npython tool.py --not-shell-so-not-checked\n```\n\n"
        "Inline: `python tool.py --delta` and `python tool.py [--flag]`.\n")
    assert broken_links(page, root=tmp_path) == [
        "../nope.md: no such file (nope.md)",
        "img/gone.png: no such file (docs/img/gone.png)",
        "page.md#nowhere: no heading with anchor #nowhere in page.md",
        "docs/img/absent.png: no such picture",
    ]
    commands = doc_commands([page], root=tmp_path)
    assert [(s, f) for _, s, f in commands] == [
        ("tool.py", ["--alpha_beta", "--flag"]),
        ("tool.py", ["--gamma"]),
        ("missing_script.py", ["--x"]),
        ("tool.py", ["--delta"]),
        ("tool.py", ["--flag"]),
    ]
    assert command_problems(commands, root=tmp_path) == [
        "docs/page.md: python tool.py: unknown flag(s) --gamma",
        "docs/page.md: python missing_script.py: no such script",
        "docs/page.md: python tool.py: unknown flag(s) --delta",
    ]


SHARED = re.compile(r"\.\./shared\b|(?<![\w.])shared/reference\b")


def private_paths(root: Path = ROOT) -> list[str]:
    """Every line of a page a user reads (README.md, docs/*.md, inputs/README.md, the comments of
    configs/*.toml) that names a path under `../shared`: the project's own machine keeps the
    paper's release there, a user has only their clone of it."""
    pages = doc_files(root) + [root / "inputs" / "README.md"]
    found = []
    for path in pages + sorted((root / "configs").glob("*.toml")):
        if not path.is_file():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            text = line.split("#", 1)[1] if path.suffix == ".toml" and "#" in line else line
            if path.suffix == ".toml" and "#" not in line:
                continue
            if SHARED.search(text):
                found.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    return found


def test_no_page_names_the_projects_private_copy_of_the_release():
    """Issue 28: eleven places told a user to pass `../shared/reference/paper-release`, which a user
    does not have; pages say "a clone of the paper's public release" instead."""
    assert private_paths() == []


def test_the_private_path_check_catches_one(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "configs").mkdir()
    (tmp_path / "README.md").write_text("pass `--results-root <paper-release>/results` (a clone)\n")
    (tmp_path / "docs" / "a.md").write_text("ok\npython x.py --release-dir ../shared/reference/paper-release\n")
    (tmp_path / "configs" / "s.toml").write_text('# see shared/reference/paper-release\nroot = "../shared/x"\n')
    assert private_paths(tmp_path) == [
        "docs/a.md:2: python x.py --release-dir ../shared/reference/paper-release",
        "configs/s.toml:1: # see shared/reference/paper-release",
    ]


def test_results_format_names_every_column_the_store_writes():
    """Issue 28: docs/results-format.md lacked `group_var` and `group`; every column of
    `results_store.COLUMNS` is named in its table, in backticks."""
    from utils.probing.results_store import COLUMNS

    text = (ROOT / "docs" / "results-format.md").read_text(encoding="utf-8")
    table = "\n".join(line for line in text.splitlines() if line.startswith("| `"))
    named = set(re.findall(r"`([a-z_0-9]+)", table)) | {c for cell in re.findall(r"`([^`]+)`", table)
                                                        for c in re.split(r",\s*", cell)}
    assert [c for c in COLUMNS if c not in named] == []


def config_references(root: Path = ROOT) -> list[str]:
    """What the comments of configs/*.toml point a reader to that is not there: a `docs/*.md` page
    or a README section (`README, "Title"`) by a heading that does not exist."""
    readme = (root / "README.md").read_text(encoding="utf-8") if (root / "README.md").is_file() else ""
    headings = {m.strip() for m in re.findall(r"^#+\s+(.+)$", readme, flags=re.M)}
    missing = []
    for path in sorted((root / "configs").glob("*.toml")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            comment = line.split("#", 1)[1] if "#" in line else ""
            for page in re.findall(r"\bdocs/[\w-]+\.md", comment):
                if not (root / page).is_file():
                    missing.append(f"{path.name}:{n}: {page}")
            for title in re.findall(r'README,?\s+"([^"]+)"', comment):
                if title not in headings:
                    missing.append(f'{path.name}:{n}: README section "{title}"')
    return missing


def test_config_comments_point_to_what_exists(tmp_path):
    """Issue 28: configs/paper.toml sent readers to a README section that does not exist."""
    assert config_references() == []
    (tmp_path / "configs").mkdir()
    (tmp_path / "README.md").write_text("# T\n\n## Set up\n")
    (tmp_path / "configs" / "s.toml").write_text('# see README, "Set up"\n# see README, "Human data"\n'
                                                 "# and docs/nowhere.md\n")
    assert config_references(tmp_path) == ['s.toml:2: README section "Human data"', "s.toml:3: docs/nowhere.md"]


def test_every_analysis_script_is_named_in_the_layout_and_the_analysis_page():
    """Issue 28: docs/layout.md omitted internal_consistency.py (and docs/analysis.md's table of
    scripts it and rq1_groups.py); a new script has to be named in both."""
    scripts = sorted(p.stem for p in (ROOT / "show_results").glob("*.py"))
    layout = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    table = (ROOT / "docs" / "analysis.md").read_text(encoding="utf-8")
    assert [s for s in scripts if not re.search(rf"\b{s}\b", layout)] == []
    assert [s for s in scripts if f"`show_results/{s}.py`" not in table] == []


def test_no_merge_conflict_markers_are_left_in_tracked_text():
    """A merge's conflict markers once landed in docs/layout.md unnoticed: no test read those lines."""
    import subprocess

    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True).stdout.split()
    marked = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in (".md", ".py", ".json", ".toml", ".txt", ".csv") or not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        marked += [f"{name}:{i}" for i, line in enumerate(lines, 1)
                   if line.startswith(("<<<<<<< ", ">>>>>>> ")) or line == "======="]
    assert marked == []
