"""benchmarks/protocol_effects.py: the steps from our protocol to the release's, and its table.

The release's text is never written here: each expected piece (its examples file, its questionnaire
rows, its whole message list) is read from ../shared/reference/paper-release at run time; those
tests skip when the checkout is absent. The table's numbers are checked against a plain
re-computation written in this file (W1 by cumulative sums, Kendall's tau by counting pairs).
"""
from __future__ import annotations

import csv
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "paper-release"
needs_release = pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference/paper-release is not present")


def _load():
    spec = importlib.util.spec_from_file_location("protocol_effects", ROOT / "benchmarks" / "protocol_effects.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["protocol_effects"] = module
    spec.loader.exec_module(module)
    return module


pe = _load()


def w1_score(p, q) -> float:
    p, q = np.asarray(p, float), np.asarray(q, float)
    p, q = p / p.sum(), q / q.sum()
    return 1 - float(np.abs(np.cumsum(p) - np.cumsum(q)).sum()) / (len(p) - 1)


def tau_by_pairs(a, b) -> float:
    concordant = discordant = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            s = np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
            concordant += s > 0
            discordant += s < 0
    return (concordant - discordant) / (len(a) * (len(a) - 1) / 2)


@pytest.fixture(scope="module")
def plans():
    return {m: pe.steps(REFERENCE, m) for m in ("logprob", "sample")}


@needs_release
def test_release_message_cut_into_its_own_pieces():
    protocol = pe.load_release_protocol(REFERENCE, "local")
    parts = pe.release_parts(protocol)
    rows = {item.id: row for row, item in protocol.questionnaire("English")}
    messages = {r.item.id: r.messages[-1].content for r in protocol.rq1().requests}
    assert len(parts) == len(rows) == 144
    examples = {p.examples for p in parts.values()}
    assert len(examples) == 1  # one examples file for every item, read from the checkout
    files = [f.read_text(encoding="utf-8") for f in (REFERENCE / "inputs" / "few_shot").glob("*.txt")]
    assert examples.pop() in files
    for item_id, p in parts.items():
        assert p.text() == messages[item_id]
        assert (p.question, p.options) == (rows[item_id]["question"], rows[item_id]["answer"])
        assert p.instruction and p.ending and p.lead


@needs_release
@pytest.mark.parametrize("method", ["logprob", "sample"])
def test_each_step_changes_one_piece(plans, method):
    plan = plans[method]
    assert list(plan) == list(pe.STEPS)
    protocol = pe.load_release_protocol(REFERENCE, "local")
    parts = pe.release_parts(protocol)
    release = {r.item.id: r.messages for r in protocol.rq1().requests}
    system = [m for m in next(iter(release.values())) if m.role == "system"]
    assert len(system) == 1
    for i in range(144):
        s = [plan[name][i] for name in pe.STEPS]
        item_id = s[0].item.id
        assert all(r.item.id == item_id and r.method == method for r in s)
        p = parts[item_id]
        user = [r.messages[-1].content for r in s]
        # wording: the release's question text in our prompt; ours elsewhere
        assert p.question in user[1] and s[1].item.question == p.question
        assert user[2] == user[1] and s[1].messages[0].role == "user" and s[2].messages[0] == system[0]
        # instruction: the release's instruction, then our question block unchanged
        assert user[3].startswith(p.instruction.rstrip()) and p.examples not in user[3]
        assert user[3].rsplit(p.question, 1)[1] == user[2].rsplit(p.question, 1)[1]
        # examples: the release's examples file between its instruction and our block
        assert user[4].startswith(p.instruction + p.examples.rstrip())
        assert user[4].rsplit(p.question, 1)[1] == user[3].rsplit(p.question, 1)[1]
        # question: the release's layout, not yet its ending; then its whole message
        assert user[5] + p.ending == user[6]
        assert s[6].messages == release[item_id]
        assert len({u for u in user[1:]}) == 5  # each later step differs from the one before


@needs_release
def test_acceptance_rows_on_the_release_replies():
    [row] = pe.acceptance_rows(REFERENCE)
    n = sum(1 for f in (REFERENCE / "results" / "RQ1").rglob("results.csv")
            for _ in csv.DictReader(f.open(encoding="utf-8")))
    assert row["items"] == n and f"on the release's {n} stored RQ1 replies" in row["step"]
    assert row["max_change_vs_previous"] < 1e-9  # both readings normalize the same accepted mapping


@needs_release
def test_acceptance_rows_count_what_each_rule_takes(tmp_path):
    """Sums of 80% (both accept), 140% (the release accepts, ours rejects) and 30% (neither)."""
    shutil.copytree(REFERENCE, tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("results", "*.pdf"))
    folder = tmp_path / "results" / "RQ1" / "m"
    folder.mkdir(parents=True)
    replies = ["{'1': '40%', '2': '40%'}", "{'1': '70%', '2': '70%'}", "{'1': '10%', '2': '20%'}"]
    with (folder / "results.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "question", "choices", "choice_keys", "answer", "type", "response"])
        for i, r in enumerate(replies):
            w.writerow([f"Q{i + 1}", "q", "['a', 'b']", "['1', '2']", "1. a\n2. b", "Opinion-Dependent", r])
    [row] = pe.acceptance_rows(tmp_path)
    assert "ours accepts 1, the release's 2" in row["step"]
    assert "sums 30.0%-140.0%" in row["step"]
    assert row["items"] == 3


def test_step_rows_match_a_plain_computation():
    rng = np.random.default_rng(3)
    n_items, k = 6, 4
    n_options = np.array([4, 3, 4, 2, 4, 3])

    def answers():
        out = np.zeros((n_items, k))
        for i, n in enumerate(n_options):
            out[i, :n] = rng.dirichlet(np.ones(n))
        return out

    dists = {"ours": answers(), "ours, another seed": answers(), "+ release wording": answers(),
             "+ release system": answers()}
    human = np.stack([answers() for _ in range(5)])
    rows = pe.step_rows("sample", dists, {name: 1.0 for name in dists}, n_options, human)
    by = {r["step"]: r for r in rows}

    def changes(a, b):
        return [1 - w1_score(dists[a][i, :n], dists[b][i, :n]) for i, n in enumerate(n_options)]

    expected_previous = {"ours": "ours", "ours, another seed": "ours", "+ release wording": "ours",
                         "+ release system": "+ release wording"}
    country = {name: [np.mean([w1_score(dists[name][i, :n], human[c, i, :n]) for i, n in enumerate(n_options)])
                      for c in range(5)] for name in dists}
    for name, previous in expected_previous.items():
        assert by[name]["mean_change_vs_previous"] == pytest.approx(np.mean(changes(name, previous)))
        assert by[name]["max_change_vs_previous"] == pytest.approx(np.max(changes(name, previous)))
        assert by[name]["mean_change_vs_ours"] == pytest.approx(np.mean(changes(name, "ours")))
        assert by[name]["rq1_mean_score"] == pytest.approx(np.mean(country[name]))
        assert by[name]["kendall_tau_countries_vs_ours"] == pytest.approx(tau_by_pairs(country[name], country["ours"]))
    assert by["ours"]["kendall_tau_countries_vs_ours"] == pytest.approx(1.0)


def test_bad_methods_flag_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        pe.main(["--release-dir", str(REFERENCE), "--methods", "verbalized"])
    assert exc.value.code == 2
    assert "--methods takes logprob and/or sample" in capsys.readouterr().err
