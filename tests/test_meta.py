"""`run_meta.json`: what produced a results file, with secrets taken out by value, not by name."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from utils.core.secrets import register_secret
from utils.probing.cli import api_main
from utils.probing.meta import run_meta

ROOT = Path(__file__).resolve().parents[1]


def test_a_secret_value_is_redacted_and_harmless_token_settings_are_kept():
    register_secret("sk-meta-canary-0123456789")
    meta = run_meta({"max_new_tokens": 64, "api_key_env": "OPENAI_API_KEY", "ids": "sk-meta-canary-0123456789",
                     "results_root": Path("/tmp/r")}, note="key sk-meta-canary-0123456789 echoed")
    assert meta["arguments"] == {"max_new_tokens": 64, "api_key_env": "OPENAI_API_KEY", "ids": "[redacted]",
                                 "results_root": "/tmp/r"}
    assert meta["note"] == "key [redacted] echoed"
    assert "sk-meta-canary" not in json.dumps(meta)


def test_run_meta_json_of_a_real_run(server, tmp_path, monkeypatch):
    key = "sk-meta-run-canary-987654"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    code = api_main(["--model_name_or_path", "org/m", "--base_url", server.base_url, "--results-root", str(tmp_path),
                     "--limit", "2", "--quiet", "--max-new-tokens", "77", "--temperature", "0.3",
                     "--country", "Japan", "--steering_method", "few-shot"], script="RQ2")
    assert code == 0
    folder = tmp_path / "RQ2" / "few-shot" / "Japan" / "org" / "m"
    text = (folder / "run_meta.json").read_text(encoding="utf-8")
    meta = json.loads(text)
    assert key not in text
    assert meta["arguments"]["max_new_tokens"] == 77 and meta["arguments"]["temperature"] == 0.3
    assert {k: meta[k] for k in ("experiment", "model", "method", "steering_method", "country", "language",
                                 "variant", "temperature", "max_new_tokens", "samples")} == {
        "experiment": "RQ2", "model": "org/m", "method": "verbalized", "steering_method": "few-shot",
        "country": "Japan", "language": "English", "variant": "default", "temperature": "0.3",
        "max_new_tokens": "77", "samples": ""}
    assert meta["summary"]["ok"] == 2
    expected = {"dataset/questions/WV7_English.jsonl", "inputs/prompts/English.json",
                "inputs/format_examples/English.json", "inputs/steering/methods.json",
                "inputs/steering/countries.json", "inputs/few_shot/Japan.json",
                "dataset/questions/extra/WV7_English.jsonl"}  # the few-shot items outside the 144
    assert set(meta["inputs"]) == expected
    for name, digest in meta["inputs"].items():
        assert digest == hashlib.sha256((ROOT / name).read_bytes()).hexdigest()


def test_the_commit_is_the_one_git_names(tmp_path):
    """Read from .git's files, as git itself resolves it: a loose ref, a packed one, a detached HEAD."""
    import shutil
    import subprocess

    from utils.core.git import git_head

    if shutil.which("git") is None:
        raise AssertionError("git is needed to check the commit reader against git itself")
    repo = tmp_path / "r"
    run = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True,  # noqa: E731
                                    text=True).stdout.strip()
    repo.mkdir()
    run("init", "-q", "-b", "main")
    (repo / "f").write_text("1")
    run("add", "f")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    assert git_head(repo) == run("rev-parse", "HEAD")
    run("pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists() and git_head(repo) == run("rev-parse", "HEAD")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "two")
    run("checkout", "-q", "--detach", "HEAD~1")
    assert git_head(repo) == run("rev-parse", "HEAD")
    assert run_meta({})["git_commit"] == subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parents[1],
                                                        capture_output=True, text=True).stdout.strip()
