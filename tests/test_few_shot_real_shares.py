"""benchmarks/few_shot_real_shares.py: the release's English few-shot prompt with the survey's real
shares in place of its numbers, and the table it writes.

Nothing of the release's text is written here: the files are read from
../shared/reference/paper-release at run time, and those tests skip when it is absent. Expected
numbers come from an independent reading of each answer line (`ast.literal_eval` of its dict) and
the table's from a plain re-computation (W1 by cumulative sums).
"""
from __future__ import annotations

import ast
import csv
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from utils.probing.conditions import few_shot_items

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "few_shot_real_shares.py"
REFERENCE = ROOT.parent / "shared" / "reference" / "paper-release"
needs_release = pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference/paper-release is not present")


def _load():
    spec = importlib.util.spec_from_file_location("few_shot_real_shares", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fs = _load()


def answer_dicts(text: str) -> list[dict[str, float]]:
    """Each example's answer, read as the Python dict the release writes after `Answer: `."""
    out = []
    for line in text.splitlines():
        if line.startswith("Answer: {"):
            d = ast.literal_eval(line[len("Answer: "):])
            out.append({str(k): float(v.rstrip("%")) for k, v in d.items()})
    return out


def w1_score(p, q) -> float:
    p, q = np.asarray(p, float), np.asarray(q, float)
    return 1 - float(np.abs(np.cumsum(p) - np.cumsum(q)).sum()) / (len(p) - 1)


@needs_release
@pytest.mark.parametrize("country", ["Germany", "Korea"])
def test_real_shares_replace_the_numbers_and_nothing_else(country):
    text = (REFERENCE / "inputs" / "few_shot" / f"lang-En_dist-{country}.txt").read_text(encoding="utf-8")
    shots = few_shot_items(country)
    changed = fs.with_shares(text, shots)
    before, after = answer_dicts(text), answer_dicts(changed)
    assert len(before) == len(after) == 5
    for got, item in zip(after, shots):
        assert got == {k: round(float(v), 2) for k, v in item["percentages"].items()}
    assert before != after
    rest = lambda t: [line for line in t.splitlines() if not line.startswith("Answer: {")]  # noqa: E731
    assert rest(changed) == rest(text)
    # the release's own quirk (an unquoted last key) is kept as written
    assert [re.findall(r"[{ ](\d+):", line) for line in changed.splitlines()] == \
        [re.findall(r"[{ ](\d+):", line) for line in text.splitlines()]


@needs_release
def test_where_the_numbers_come_from():
    folder = REFERENCE / "inputs" / "few_shot"
    read = lambda name: answer_dicts((folder / name).read_text(encoding="utf-8"))  # noqa: E731
    germany, korea, made_up = read("lang-En_dist-Germany.txt"), read("lang-En_dist-Korea.txt"), read(
        "lang-En_dist-random.txt")
    assert germany == korea
    same = sum(a in made_up for a in germany)
    protocol = fs.load_release_protocol(REFERENCE, "local")
    text = (folder / "lang-En_dist-Germany.txt").read_text(encoding="utf-8")
    assert fs.numbers_source(protocol, "Germany", text) == f"{same} of 5 answers as in the format examples; same as Korea"
    assert same == 3
    japan = (folder / "lang-En_dist-Japan.txt").read_text(encoding="utf-8")
    assert fs.numbers_source(protocol, "Japan", japan) == "0 of 5 answers as in the format examples"


@needs_release
def test_three_prompts_per_country(tmp_path):
    """rq1 is the release's own RQ1 prompt, release its own few-shot prompt, real the same text
    with the survey shares: the 139 scored items, the example items left out."""
    protocol = fs.load_release_protocol(REFERENCE, "local")
    plan, kind = fs.country_plan(protocol, "Korea", tmp_path)
    shots = few_shot_items("Korea")
    skip = {e["id"] for e in shots}
    own_rq1 = {r.item.id: r.messages for r in protocol.rq1().requests}
    own_few = {r.item.id: r.messages for r in protocol.rq2("few-shot", "Korea").requests}
    assert len(plan["rq1"]) == 139 and not skip & {r.item.id for r in plan["rq1"]}
    for name in plan:
        assert all(r.method == "logprob" for r in plan[name])
    assert all(r.messages == own_rq1[r.item.id] for r in plan["rq1"])
    assert all(r.messages == own_few[r.item.id] for r in plan["release"])
    for r in plan["real"]:
        user = r.messages[-1].content
        assert answer_dicts(user) == [{k: round(float(v), 2) for k, v in e["percentages"].items()} for e in shots]
    assert kind.startswith("3 of 5")


def test_a_file_with_other_answers_is_one_line():
    with pytest.raises(SystemExit, match="shows 1 answers, the country's shares are for 2 items"):
        fs.with_shares("Answer: {'1': '50.00%', '2': '50.00%'}\n", [{"percentages": {"1": 1, "2": 1}}] * 2)
    with pytest.raises(SystemExit, match=r"Q1: the file's answer has codes \['1', '2'\], the shares \['1', '2', '3'\]"):
        fs.with_shares("Answer: {'1': '50.00%', '2': '50.00%'}\n", [{"id": "Q1", "percentages": {"1": 1, "2": 1, "3": 1}}])


def test_row_matches_a_plain_computation():
    rng = np.random.default_rng(4)
    n_options = np.array([4, 2, 5, 3])
    def draw():
        d = np.full((4, 5), np.nan)
        for i, k in enumerate(n_options):
            d[i] = 0.0
            d[i, :k] = rng.dirichlet(np.ones(k))
        return d
    dists = {"rq1": draw(), "release": draw(), "real": draw()}
    human = draw()
    row = fs.country_row("Korea", "kind", dists, n_options, 1.5, human)

    def changes(a, b):
        return [1 - w1_score(dists[a][i, :k], dists[b][i, :k]) for i, k in enumerate(n_options)]

    def score(a):
        return np.mean([w1_score(dists[a][i, :k], human[i, :k]) for i, k in enumerate(n_options)])

    assert row["items"] == 4
    assert row["mean_change_real_vs_release"] == pytest.approx(np.mean(changes("real", "release")))
    assert row["max_change_real_vs_release"] == pytest.approx(np.max(changes("real", "release")))
    assert row["mean_change_release_vs_rq1"] == pytest.approx(np.mean(changes("release", "rq1")))
    assert row["mean_change_real_vs_rq1"] == pytest.approx(np.mean(changes("real", "rq1")))
    for name in dists:
        assert row[f"score_{name}"] == pytest.approx(score(name))
    assert row["gain_real"] == pytest.approx(score("real") - score("rq1"))
    assert row["gain_release"] == pytest.approx(score("release") - score("rq1"))
    assert "score_rq1" not in fs.country_row("Korea", "kind", dists, n_options, 1.5, None)


def test_unknown_country_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--release-dir", str(tmp_path), "--countries", "Germny"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown country 'Germny'; choose from Argentina" in proc.stderr


@needs_release
@pytest.mark.slow
def test_end_to_end_with_the_bundled_model(tmp_path):
    out = tmp_path / "t.csv"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--release-dir", str(REFERENCE), "--countries", "Korea",
                           "--limit", "1", "--out", str(out)], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["country"] for r in rows] == ["Korea"] and rows[0]["items"] == "1"
    assert rows[0]["release_numbers"] == "3 of 5 answers as in the format examples; same as Germany"
    assert 0 < float(rows[0]["mean_change_real_vs_release"]) <= float(rows[0]["max_change_real_vs_release"]) < 1
    assert "| Korea | 3 of 5 answers" in proc.stdout
