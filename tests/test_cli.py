"""The RQ1 scripts as a user runs them: from another directory, dry runs, errors, kills."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openai_server import FakeOpenAIServer

from utils.core.results.table import read_table

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "code" / "RQ1" / "prob_by_api.py"
LLM = ROOT / "code" / "RQ1" / "prob_by_llm.py"


def run(script: Path, *args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=300)


def test_dry_run_renders_every_item_and_loads_no_model(tmp_path):
    out = tmp_path / "prompts.jsonl"
    proc = run(LLM, "--dry-run", str(out), "--method", "verbalized", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 145 and {"id", "language", "prompt"} <= set(rows[0])  # the 144, and Q151 for RQ3
    assert rows[0]["id"] == "Q1" and rows[0]["language"] == "English" and rows[-1]["id"] == "Q151"
    assert all(r["prompt"].rstrip().endswith("Reply:") for r in rows)
    assert "no model was called" in proc.stdout


def test_missing_key_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    proc = subprocess.run([sys.executable, str(API), "--model_name_or_path", "gpt-4o"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "OPENAI_API_KEY" in proc.stderr


@pytest.mark.parametrize("argv, experiment, needle", [
    (["--country", "Atlantis"], "RQ2", "unknown country 'Atlantis'"),
    (["--steering_method", "hypnosis"], "RQ2", "unknown steering method 'hypnosis'"),
    (["--ids", "Q999"], "RQ1", "unknown item id(s) Q999"),
    (["--model_name_or_path", "../evil"], "RQ1", "cannot be used as a results folder"),
])
def test_flags_are_checked_before_the_key(argv, experiment, needle, tmp_path, capsys, monkeypatch):
    """No key set and a bad flag: the flag is what the one line names (the key would come next)."""
    from utils.probing.cli import api_main

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    rc = api_main(["--model_name_or_path", "gpt-4o", "--results-root", str(tmp_path), *argv], script=experiment)
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and needle in err and "OPENAI_API_KEY" not in err, err


def test_unknown_item_id_is_one_line(tmp_path):
    proc = run(LLM, "--dry-run", str(tmp_path / "x.jsonl"), "--ids", "Q1,Q999", cwd=tmp_path)
    assert proc.returncode == 2 and "Q999" in proc.stderr and "Traceback" not in proc.stderr


def test_item_ids_are_matched_without_case(tmp_path):
    out = tmp_path / "p.jsonl"
    proc = run(LLM, "--dry-run", str(out), "--ids", "q1,Q57,q119", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["Q1", "Q57", "Q119"]


def test_rq2_takes_lists_of_countries_and_steering_methods_in_order(tmp_path):
    out = tmp_path / "p.jsonl"
    proc = run(ROOT / "code" / "RQ2" / "prob_by_llm.py", "--dry-run", str(out), "--ids", "Q1",
               "--country", "korea, Japan", "--steering_method", "persona,LANGUAGE", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["steering_method"], r["country"]) for r in rows] == [
        ("persona", "Korea"), ("persona", "Japan"), ("language", "Korea"), ("language", "Japan")]
    proc = run(ROOT / "code" / "RQ2" / "prob_by_llm.py", "--dry-run", str(out), "--country", "Japan,Japn", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "unknown country 'Japn' (did you mean Japan?)" in proc.stderr


def test_api_script_against_local_server(tmp_path, server):
    proc = run(API, "--base_url", server.base_url, "--model_name_or_path", "org/test-model", "--limit", "5",
               "--results-root", str(tmp_path), "--quiet", env={"OPENAI_API_KEY": "sk-canary-123"}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "RQ1" / "org" / "test-model"
    rows = read_table(folder / "results.csv").rows
    assert [r["id"] for r in rows] == ["Q1", "Q2", "Q3", "Q4", "Q5"] and {r["status"] for r in rows} == {"ok"}
    meta = json.loads((folder / "run_meta.json").read_text())
    assert meta["model"] == "org/test-model" and meta["summary"]["ok"] == 5
    assert server.auth_headers[0] == "Bearer sk-canary-123"
    for path in folder.iterdir():  # the key is used, never stored
        assert "sk-canary-123" not in path.read_text()
    assert "sk-canary-123" not in proc.stdout + proc.stderr


def test_a_base_url_without_scheme_is_refused_at_once_with_the_url_meant(tmp_path, server):
    """`127.0.0.1:PORT` would be retried for ~43 s per item; it is one line before anything is
    sent, and the URL it suggests is the one that works."""
    bare = server.base_url.removeprefix("http://").removesuffix("/v1")
    started = time.monotonic()
    proc = run(API, "--base_url", bare, "--model_name_or_path", "m", "--limit", "2", "--results-root", str(tmp_path),
               "--quiet", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"did you mean {server.base_url}?" in proc.stderr and time.monotonic() - started < 30
    assert server.requests == [] and not (tmp_path / "RQ1").exists()
    proc = run(API, "--base_url", server.base_url, "--model_name_or_path", "m", "--limit", "2",
               "--results-root", str(tmp_path), "--quiet", cwd=tmp_path)
    assert proc.returncode == 0 and len(server.requests) == 2, proc.stderr


def test_sigkill_at_random_moments_loses_nothing(tmp_path):
    """Kill the API run with SIGKILL several times; the restarted run ends with 145 unique ids,
    and every row that was on disk before a kill is still there unchanged."""
    rng = random.Random(7)
    results = tmp_path / "RQ1" / "m" / "results.csv"
    args = [sys.executable, str(API), "--model_name_or_path", "m", "--results-root", str(tmp_path), "--quiet"]
    seen: dict[str, str] = {}
    with FakeOpenAIServer(delay_s=0.02) as srv:
        args += ["--base_url", srv.base_url]
        for _ in range(6):
            before = results.stat().st_size if results.exists() else 0
            proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 120  # start-up is slow on a loaded machine: wait for new rows
            while time.monotonic() < deadline and proc.poll() is None:
                if results.exists() and results.stat().st_size > before + 2000:
                    break
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.5))  # then kill at a random moment of the writing
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if results.exists():
                text = results.read_text()
                for row in read_table(results).rows if text.endswith("\n") else []:
                    seen.setdefault(row["id"], row["distribution"])
        done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = read_table(results).rows
    ids = [r["id"] for r in rows]
    assert len(ids) == 145 and len(set(ids)) == 145  # RQ1's 144 items and Q151
    assert all(r["status"] == "ok" for r in rows)
    final = {r["id"]: r["distribution"] for r in rows}
    assert all(final[i] == d for i, d in seen.items())
    assert seen, "no kill happened after the first rows were written; the test proved nothing"


def test_batch_size_flag_reaches_the_local_prober(tiny_model_dir, tmp_path):
    """`--batch-size` of prob_by_llm.py: recorded in run_meta.json, and the logprob answers are
    the same whether items are scored one at a time or four per pass."""
    got = {}
    for size in ("1", "4"):
        root = tmp_path / size
        proc = run(LLM, "--model_name_or_path", str(tiny_model_dir), "--limit", "6", "--batch-size", size,
                   "--results-root", str(root), "--quiet", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        folder = root / "RQ1" / tiny_model_dir.name
        assert json.loads((folder / "run_meta.json").read_text())["arguments"]["batch_size"] == int(size)
        got[size] = {r["id"]: json.loads(r["distribution"]) for r in read_table(folder / "results.csv").rows}
    assert got["1"].keys() == got["4"].keys() and len(got["1"]) == 6
    for item, dist in got["1"].items():
        assert dist.keys() == got["4"][item].keys()
        assert all(abs(dist[k] - got["4"][item][k]) < 1e-5 for k in dist)
    bad = run(LLM, "--batch-size", "0", "--dry-run", str(tmp_path / "d.jsonl"))
    assert bad.returncode == 2 and "at least 1" in bad.stderr and bad.stderr.count("\n") == 1


def test_sigterm_keeps_finished_rows_and_says_how_to_resume(tmp_path):
    """SIGTERM (a scheduler's stop, `timeout`, `kill`) is handled like Ctrl-C."""
    results = tmp_path / "RQ1" / "m" / "results.csv"
    args = [sys.executable, str(API), "--model_name_or_path", "m", "--results-root", str(tmp_path), "--quiet"]
    with FakeOpenAIServer(delay_s=0.05) as srv:
        proc = subprocess.Popen([*args, "--base_url", srv.base_url], cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "OPENAI_API_KEY": "sk-test-sigterm-0000"})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if results.exists() and len(read_table(results).rows) >= 3:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        kept = [r["id"] for r in read_table(results).rows]
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert err.strip().splitlines() == ["stopped by SIGTERM: finished rows are saved; rerun the same command "
                                            "to resume"]
        assert 3 <= len(kept) < 144 and not (results.parent / "results.csv.lock").exists()
        again = subprocess.run([*args, "--base_url", srv.base_url, "--limit", str(len(kept) + 1)], cwd=tmp_path,
                               capture_output=True, text=True, timeout=300,
                               env={**os.environ, "OPENAI_API_KEY": "sk-test-sigterm-0000"})
    assert again.returncode == 0, again.stderr
    assert f"{len(kept)} already done, 1 ok" in again.stdout


def test_a_rerun_with_nothing_left_loads_no_model(tiny_model_dir, tmp_path):
    """The second run would fail to load the model (its weights are gone); it does not try."""
    import shutil

    model = tmp_path / "tiny"
    shutil.copytree(tiny_model_dir, model)
    common = ["--model_name_or_path", str(model), "--limit", "2", "--results-root", str(tmp_path / "r"), "--quiet"]
    assert run(LLM, *common, cwd=tmp_path).returncode == 0
    for weights in model.glob("*.safetensors"):
        weights.unlink()
    proc = run(LLM, *common, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "nothing left to do: all 2 items of 1 condition(s) already have ok rows" in proc.stdout


def test_a_relative_dry_run_file_is_written_where_the_user_stands(tmp_path):
    proc = run(LLM, "--dry-run", "out/prompts.jsonl", "--limit", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len((tmp_path / "out" / "prompts.jsonl").read_text().splitlines()) == 2


def test_failed_model_load_leaves_no_results_file(tmp_path):
    proc = run(LLM, "--model_name_or_path", str(tmp_path / "no-such-model"), "--limit", "1",
               "--results-root", str(tmp_path / "r"), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "r").exists()  # no header-only results.csv, no empty folders


@pytest.mark.slow
def test_logprob_then_verbalized_is_refused_before_loading(tmp_path):
    """Issue 11's two runs with the bundled model: the second is refused in one line, file untouched."""
    root = ["--results-root", str(tmp_path), "--quiet"]
    assert run(LLM, "--method", "logprob", "--limit", "2", *root, cwd=tmp_path).returncode == 0
    path = tmp_path / "RQ1" / "SmolLM2-135M-Instruct" / "results.csv"
    before = path.read_bytes()
    started = time.monotonic()
    proc = run(LLM, "--method", "verbalized", "--limit", "3", *root, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "method: logprob in the file, verbalized now" in proc.stderr and "--run-name" in proc.stderr
    assert "Loading" not in proc.stderr and "GGUF" not in proc.stderr  # no model was loaded
    assert path.read_bytes() == before and time.monotonic() - started < 60


def _parsers():
    from utils.probing.cli import parser

    return {f"{kind} {exp}": parser(exp, backend) for kind, backend in (("api", "api"), ("llm", "local"))
            for exp in ("RQ1", "RQ2")}


def test_every_flag_has_both_spellings_and_help_shows_the_papers_first():
    for name, parser in _parsers().items():
        flags = {o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
        for flag in flags:
            body = flag[2:]
            other = "--" + (body.replace("_", "-") if "_" in body else body.replace("-", "_"))
            assert other in flags, f"{name}: {flag} has no {other}"
        text = parser.format_help()
        assert "--model_name_or_path, --model-name-or-path" in text
        assert "--results-root, --results_root" in text
        if name.startswith("api"):
            assert "--base_url, --base-url" in text
        if name.endswith("RQ2"):
            assert "--steering_method, --steering-method" in text


def test_both_spellings_give_the_same_arguments():
    from utils.probing.cli import parser

    paper = ["--model_name_or_path", "m", "--base_url", "http://h/v1", "--steering_method", "persona",
             "--results_root", "r", "--max_new_tokens", "9", "--dry_run", "d.jsonl"]
    ours = ["--model-name-or-path", "m", "--base-url", "http://h/v1", "--steering-method", "persona",
            "--results-root", "r", "--max-new-tokens", "9", "--dry-run", "d.jsonl"]
    assert vars(parser("RQ2", "api").parse_args(paper)) == vars(parser("RQ2", "api").parse_args(ours))


def test_names_are_matched_without_case_and_a_near_miss_is_suggested(tmp_path):
    rq2 = ROOT / "code" / "RQ2" / "prob_by_llm.py"
    proc = run(rq2, "--country", "japan", "--steering-method", "PERSONA", "--method", "Verbalized", "--limit", "1",
               "--dry-run", "p.jsonl", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    row = json.loads((tmp_path / "p.jsonl").read_text())
    assert (row["country"], row["steering_method"]) == ("Japan", "persona")
    for args, hint in ((["--country", "Japn"], "did you mean Japan?"),
                       (["--steering_method", "fewshot"], "did you mean few-shot?"),
                       (["--method", "logprb"], "did you mean logprob?"),
                       (["--steering-metod", "persona"], "did you mean --steering-method?")):
        bad = run(rq2, *args, "--dry-run", "x.jsonl", cwd=tmp_path)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and hint in bad.stderr, (args, bad.stderr)
        assert "Traceback" not in bad.stderr


def test_no_message_names_a_flag_that_does_not_exist():
    """Every `--flag` named in a string of the library or scripts is a flag some parser defines."""
    import re

    sources = [p for d in ("utils", "code", "show_results", "dataset") for p in (ROOT / d).rglob("*.py")]
    # argparse's own, pip's (install hints), and the one a docstring names as the mistake it prevents
    defined = {"--help", "--no-deps", "--force-reinstall", "--api-key"}
    for path in sources:
        for flag in re.findall(r"add_argument\(\s*\"(--[\w-]+)\"", path.read_text(encoding="utf-8")):
            defined |= {"--" + flag[2:].replace("_", "-"), "--" + flag[2:].replace("-", "_")}
    from utils.probing.cli import parser  # the probing scripts' parsers are built from ProbeConfig's fields

    defined |= {o for e in ("RQ1", "RQ2") for b in ("api", "local") for o in parser(e, b)._option_string_actions}
    from utils.analysis.cli import build_parser  # the analyses' parsers are built from their options' fields
    from utils.analysis.registry import ANALYSES

    defined |= {o for name in ANALYSES for o in build_parser(name, "doc")._option_string_actions}
    named = {}
    for path in sources:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "add_argument" in line or line.lstrip().startswith("#"):
                continue
            for flag in re.findall(r"[\"'`f ](--[a-z][\w-]*)", line):
                named.setdefault(flag, path.relative_to(ROOT))
    unknown = {f: str(p) for f, p in named.items() if f not in defined}
    assert not unknown, unknown
