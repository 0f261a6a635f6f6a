"""The sensitivity variants of RQ1: fewer examples, other example numbers, shuffled options."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from openai_server import FakeOpenAIServer

from utils.core.paths import REPO_ROOT
from utils.core.results.table import read_table

API = REPO_ROOT / "code" / "RQ1" / "prob_by_api.py"


def dry(tmp_path, *args) -> list[dict]:
    out = tmp_path / "d.jsonl"
    proc = subprocess.run([sys.executable, str(API), "--model_name_or_path", "m", "--dry-run", str(out), *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_variants_change_only_what_they_should(tmp_path):
    base = dry(tmp_path)
    number, prob, order = (dry(tmp_path, "--variant", v) for v in ("number", "prob", "order"))
    assert base[0]["prompt"].count("Example ") == 5 and number[0]["prompt"].count("Example ") == 3
    assert {r["variant"] for r in number} == {"number"} and len(number) == 144
    assert prob[0]["prompt"] != base[0]["prompt"] and "'18.5%'" in base[0]["prompt"] and "'18.5%'" not in prob[0]["prompt"]
    q1 = order[0]["prompt"].rsplit("Options:", 1)[1]
    assert q1.index("3. Not very important") < q1.index("2. Rather important")  # shown shuffled, codes kept


def test_variant_results_go_to_the_discussion_folder(tmp_path):
    with FakeOpenAIServer() as srv:
        proc = subprocess.run([sys.executable, str(API), "--model_name_or_path", "org/m", "--base_url", srv.base_url,
                               "--variant", "order", "--limit", "3", "--results-root", str(tmp_path), "--quiet"],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = read_table(tmp_path / "Discussion" / "sensitivity" / "order" / "org" / "m" / "results.csv").rows
    assert [r["id"] for r in rows] == ["Q1", "Q2", "Q3"]
    assert rows[0]["choice_keys"] == "['1', '3', '2', '4']"  # as presented
    assert set(json.loads(rows[0]["distribution"])) == {"1", "2", "3", "4"}


@pytest.mark.parametrize("bad", ["sideways"])
def test_unknown_variant_is_refused(tmp_path, bad):
    proc = subprocess.run([sys.executable, str(API), "--model_name_or_path", "m", "--variant", bad],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and f"unknown variant {bad!r}; choose one of: number, prob, order" in proc.stderr
