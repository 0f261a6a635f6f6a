"""The report's "What was run" section, from the `run_meta.json` beside every results file."""
from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from pathlib import Path

from utils.core.results.tree import result_paths
from utils.report import html as H


def read_meta(path: Path) -> dict | None:
    """None when the file is missing or not JSON."""
    if path.is_file():
        with contextlib.suppress(ValueError):
            return json.loads(path.read_text(encoding="utf-8"))
    return None


def read_metas(results_root: Path) -> list[dict]:
    return [m for p in result_paths(results_root, "run_meta.json") if (m := read_meta(p)) is not None]


# The settings that shape each probe method's answers, as run_meta.json's `arguments` names them.
DECODING = {"sample": (("samples", "samples"), ("sample_temperature", "sample temperature"),
                       ("max_new_tokens", "max tokens")),
            "verbalized": (("temperature", "temperature"), ("retry_temperature", "retry temperature"),
                           ("max_new_tokens", "max tokens"), ("max_attempts", "attempts"))}


def decoding(method: str, arguments: dict) -> str:
    """Arguments in either spelling (`sample-temperature`, `sample_temperature`).

    >>> decoding("logprob", {"temperature": 0.0, "max_new_tokens": 256})
    'none (option probabilities read from the next-token log-probs)'
    >>> decoding("sample", {"samples": 20, "sample-temperature": 1.0, "max_new_tokens": 8, "temperature": 0.0})
    'samples 20, sample temperature 1.0, max tokens 8'
    """
    given = {str(k).replace("-", "_"): v for k, v in (arguments or {}).items()}
    if method == "logprob":
        return "none (option probabilities read from the next-token log-probs)"
    fields = DECODING.get(method) or DECODING["verbalized"]
    return ", ".join(f"{label} {given[key]}" for key, label in fields if key in given)


def run_info_section(results_root: Path) -> str:
    metas = read_metas(results_root)
    if not metas:
        return "<h2>What was run</h2><p class='note'>no run_meta.json found (results from another toolkit?)</p>"
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for m in metas:
        method = str(m.get("method") or m.get("arguments", {}).get("method", ""))
        groups[(str(m.get("model", "")), method)].append(m)
    rows = []
    for (model, method), ms in sorted(groups.items()):
        experiments = sorted({str(m.get("experiment", "")) for m in ms})
        starts = sorted(str(m.get("started_at", "")) for m in ms if m.get("started_at"))
        elapsed = sum(float(m.get("elapsed_s") or 0) for m in ms)
        arguments = ms[0].get("arguments", {})
        rows.append([model, method, ", ".join(experiments), len(ms), starts[0] if starts else "",
                     starts[-1] if starts else "", f"{elapsed:.0f}", decoding(method, arguments)])
    cols = ["model", "probe method", "experiments", "conditions", "first started", "last started",
            "probing time (s)", "decoding"]
    versions: dict[str, set[str]] = defaultdict(set)
    for m in metas:
        for name, v in (m.get("packages") or {}).items():
            versions[name].add(str(v))
        versions["python"].add(str(m.get("python", "")))
    commits = sorted({str(m.get("git_commit", "")) for m in metas} - {""})
    soft = [[name, ", ".join(sorted(v - {""}))] for name, v in sorted(versions.items())]
    soft.append(["git commit", ", ".join(commits) or "unknown (not a git checkout)"])
    return ("<h2>What was run</h2>" + H.table(cols, rows)
            + "<h3>Software</h3>" + H.table(["package", "version(s)"], soft))
