"""`--perturb` on the RQ2 (steering) scripts and in study files: every member of every cell is its
own condition (folder `Robustness/RQ2/<method>/<country>/<member>`, identity columns), answers are
mapped back so a model that reads the content scores the same under every order (persona and
few-shot, through a real HTTP server), dry runs and study plans count the members, and the
robustness analysis gives each steering gain under every prompt, checked against scipy here.

The wording and labels files of other languages (and the persona / group keys of every wording)
are written by another change; tests that need them copy `inputs/` to a temporary folder and add
what is missing, so they keep passing once the real files land."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import openai_server
import pandas as pd
import pytest
from openai_server import FakeOpenAIServer
from scipy.stats import wasserstein_distance
from answer_files import write_answers
from wvs_fixtures import load_script

from utils.analysis.answers import load_answers, model_files
from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.spec import Experiment, RunSpec
from utils.core.results.table import read_table
from utils.core.results.tree import find_results
from utils.probing import perturb
from utils.probing.backends.api import api_backend
from utils.probing.cli import api_config, api_main, local_main
from utils.probing.conditions import rq2_cell
from utils.probing.grid import Plan, decoding_for, method_for
from utils.probing.loop import run_conditions
from utils.study.study_file import load_study
from utils.study.plan import estimate, study_jobs

IDS = ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"]  # four options each, codes 1-4
LETTERED = {"numbered": "lettered", "option number": "option letter", "the number of": "the letter of",
            "{'1': '30%', '2': '70%'}": "{'A': '30%', 'B': '70%'}"}
NAMED_KEYS = ("verbalized_persona", "logprob_persona", "verbalized_group", "logprob_group")


@pytest.fixture(scope="module")
def items():
    return [it for it in load_questionnaire(questionnaire_path()) if it.id in IDS]


@pytest.fixture
def inputs(tmp_path):
    """A copy of inputs/ whose English wording and labels files have the persona and group keys
    (added from inputs/prompts/English.json where the real files do not have them yet)."""
    root = tmp_path / "inputs"
    shutil.copytree(INPUTS_DIR, root)
    prompts = json.loads((root / "prompts" / "English.json").read_text(encoding="utf-8"))
    path = root / "perturb" / "labels" / "English.json"
    labels = json.loads(path.read_text(encoding="utf-8"))
    for key in NAMED_KEYS:
        text = prompts[key]
        for a, b in LETTERED.items():
            text = text.replace(a, b)
        labels["templates"].setdefault(key, text)
    path.write_text(json.dumps(labels), encoding="utf-8")
    path = root / "perturb" / "templates" / "English.json"
    wordings = json.loads(path.read_text(encoding="utf-8"))
    for i, wording in enumerate(wordings["wordings"], start=1):
        for key in NAMED_KEYS:
            wording.setdefault(key, f"Wording {i} of this survey task. " + prompts[key])
    path.write_text(json.dumps(wordings), encoding="utf-8")
    return root


def _picks(monkeypatch, choose):
    monkeypatch.setattr(openai_server, "answer_for", openai_server.answer_picking(choose))


def _scores(root, items) -> dict[tuple[str, str], float]:
    """(steering method, prompt) -> mean score over items against fixed made-up shares, computed with
    scipy from the answers the analysis reads back from every results file under `root`."""
    human = np.random.default_rng(3).dirichlet(np.ones(4), size=len(items))
    pos = np.arange(4)
    out = {}
    for f in find_results(root):
        ans = load_answers(f.path, [it.id for it in items], [it.order for it in items])
        out[f.spec.condition, f.spec.prompt or "original"] = float(np.mean(
            [1 - wasserstein_distance(pos, pos, a, h) / 3 for a, h in zip(ans, human)]))
    return out


def _cells(inputs, items, steering: str, specs: list[str]):
    """A Japan cell of `steering` and its members, built from the inputs copy."""
    cell = rq2_cell("Japan", steering, lambda its: [it for it in its if it.id in IDS], None, inputs)
    return [cell.condition("verbalized")] + [
        perturb.member_condition(p, cell.items, "verbalized", cell.spec, steer=cell.steer, inputs_dir=inputs)
        for p in perturb.parse_specs(perturb.applicable_specs(specs, cell.real_examples))]


def _ask(root, srv, conditions) -> int:
    config = api_config(["--model_name_or_path", "test-model", "--base_url", srv.base_url, "--results-root",
                         str(root), "--quiet"], "RQ2")
    name, make = api_backend(config)
    return run_conditions(config, Plan(conditions, method_for(config), decoding_for(config)), name, make)


SPECS = ["order:4", "order:reversed", "labels", "template:2"]


def test_a_model_that_reads_the_content_scores_the_same_under_every_prompt(tmp_path, inputs, items, monkeypatch):
    code_2 = {it.question: dict(zip(it.choice_keys, it.choices))["2"] for it in items}
    _picks(monkeypatch, lambda q, lines: next(lab for lab, text in lines if text == code_2[q]))
    conditions = _cells(inputs, items, "persona", SPECS) + _cells(inputs, items, "few-shot", SPECS)
    with FakeOpenAIServer() as srv:
        assert _ask(tmp_path, srv, conditions) == 0
        assert len(srv.requests) == 2 * 9 * len(IDS)  # the original, 4 orders, reversed, labels, 2 wordings
    scores = _scores(tmp_path, items)
    assert len(scores) == 18
    for method in ("persona", "few-shot"):
        for prompt in ("order-1@0", "order-4@0", "reversed-1@0", "labels-1@0", "template-2@0"):
            assert scores[method, prompt] == pytest.approx(scores[method, "original"], abs=1e-12), (method, prompt)
    # and the orders did move the option worded like code 2 to other labels
    moved = {perturb.show(it, p).codes.index("2") for it in items for p in perturb.parse_spec("order:4")}
    assert len(moved) > 1


def test_a_model_that_picks_the_first_listed_option_does_not(tmp_path, inputs, items, monkeypatch):
    _picks(monkeypatch, lambda q, lines: lines[0][0])
    conditions = _cells(inputs, items, "persona", ["order:4", "order:reversed"]) + \
        _cells(inputs, items, "few-shot", ["order:4", "order:reversed"])
    with FakeOpenAIServer() as srv:
        assert _ask(tmp_path, srv, conditions) == 0
    scores = _scores(tmp_path, items)
    for method in ("persona", "few-shot"):
        assert len({round(v, 9) for (m, _), v in scores.items() if m == method}) > 2, scores
        rev = read_table(tmp_path / "Robustness" / "RQ2" / method / "Japan" / "reversed-1" / "test-model" /
                           "results.csv").rows
        assert all(json.loads(r["distribution"])["4"] == 1.0 for r in rev)  # the first listed was code 4


def test_few_shot_examples_are_shown_as_the_question_is(inputs, items):
    few = _cells(inputs, items, "few-shot", ["order:1", "labels", "examples:1"])
    assert [c.spec.condition_folder()[-1] for c in few] == ["Japan", "order-1", "labels-1"]  # no examples member
    original, order, labels = (c.requests[0].messages[-1].content for c in few)
    block = original.split("Now the real question.")[0]
    assert order.split("Now the real question.")[0] == block  # order: the real examples as they are
    assert "A. Trust completely" in labels and "{'A': '" in labels  # labels: the examples lettered too
    assert "1. Trust completely" not in labels and "1. " not in labels.split("Now the real question.")[1]
    with pytest.raises(UserError, match="leave examples:K out"):
        perturb.member_condition(perturb.parse_spec("examples:1")[0], items, "verbalized",
                                 RunSpec(Experiment.RQ2, steering="few-shot", country="Japan", language="English"),
                                 steer={"real_examples": ()}, inputs_dir=inputs)
    persona = _cells(inputs, items, "persona", ["template:1", "examples:1"])
    wording = json.loads((inputs / "perturb" / "templates" / "English.json").read_text())["wordings"][0]
    user = persona[1].requests[0].messages[-1].content
    assert user.startswith(wording["verbalized_persona"].split("$")[0]) and "Japanese people" in user
    drawn = persona[2].requests[0].messages[-1].content  # five other made-up format examples
    assert drawn.count("Example ") == 5 and drawn.split("Now the real question.")[0] != \
        persona[0].requests[0].messages[-1].content.split("Now the real question.")[0]


def _run_cli(root, srv, *extra) -> int:
    return api_main(["--model_name_or_path", "test-model", "--base_url", srv.base_url, "--ids", ",".join(IDS),
                     "--results-root", str(root), "--quiet", "--country", "Japan", "--steering_method", "persona",
                     "--perturb", "order:2", "--perturb", "order:reversed", *extra], script="RQ2")


def test_members_have_their_folders_identity_columns_and_resume(tmp_path, monkeypatch):
    _picks(monkeypatch, lambda q, lines: lines[0][0])
    with FakeOpenAIServer() as srv:
        assert _run_cli(tmp_path, srv) == 0
        asked = len(srv.requests)
        assert asked == 4 * len(IDS)
        assert _run_cli(tmp_path, srv) == 0 and len(srv.requests) == asked  # resumed: nothing asked again
    folders = sorted(str(f.path.parent.relative_to(tmp_path)) for f in find_results(tmp_path))
    assert folders == ["RQ2/persona/Japan/test-model", "Robustness/RQ2/persona/Japan/order-1/test-model",
                       "Robustness/RQ2/persona/Japan/order-2/test-model",
                       "Robustness/RQ2/persona/Japan/reversed-1/test-model"]
    rows = read_table(tmp_path / "Robustness" / "RQ2" / "persona" / "Japan" / "order-2" / "test-model" /
                        "results.csv").rows
    assert {(r["experiment"], r["steering_method"], r["country"], r["language"], r["perturb_family"],
             r["perturb_index"], r["perturb_seed"]) for r in rows} == \
        {("RQ2", "persona", "Japan", "English", "order", "2", "0")}
    described = {(f.spec.experiment, f.spec.condition, f.spec.country, f.spec.prompt) for f in find_results(tmp_path)}
    assert described == {("RQ2", "persona", "Japan", p) for p in ("", "order-1@0", "order-2@0", "reversed-1@0")}
    # the paper's analyses read the original prompt only; the parse report names each file's prompt
    assert [f.path.parent.parent.name for f in model_files(tmp_path, "RQ2")] == ["Japan"]
    meta = json.loads((tmp_path / "Robustness" / "RQ2" / "persona" / "Japan" / "order-2" / "test-model" /
                       "run_meta.json").read_text())
    assert meta["arguments"]["perturb"] == ["order:2", "order:reversed"] and meta["perturb_family"] == "order"
    script = load_script("show_results/parse_report.py")
    assert script.main(["--results-root", str(tmp_path), "--out", str(tmp_path / "parse.csv")]) == 0
    with open(tmp_path / "parse.csv", newline="") as fh:
        report = list(csv.DictReader(fh))
    assert {r["perturbation"] for r in report} == {"", "order-1@0", "order-2@0", "reversed-1@0"}
    assert len([r for r in report if r["perturbation"] == ""]) == 4 * len(IDS)


def test_dry_run_counts_every_member_of_every_cell(tmp_path, capsys):
    out = tmp_path / "prompts.jsonl"
    argv = ["--method", "logprob", "--country", "Japan", "--perturb", "order:2", "--perturb", "examples:1",
            "--perturb", "order:reversed", "--limit", "3", "--dry-run", str(out)]
    assert local_main(argv + ["--steering_method", "persona"], script="RQ2") == 0
    assert "wrote 15 prompts for 5 condition(s)" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["steering_method"], r.get("perturb_family", ""), r.get("perturb_index", "")) for r in rows[::3]] == \
        [("persona", "", ""), ("persona", "order", "1"), ("persona", "order", "2"), ("persona", "examples", "1"),
         ("persona", "reversed", "1")]
    assert rows[9]["prompt"].count("Example ") == 5 and "a Japanese respondent" in rows[9]["prompt"]
    assert local_main(argv + ["--steering_method", "few-shot"], script="RQ2") == 0
    said = capsys.readouterr().out
    assert "wrote 12 prompts for 4 condition(s)" in said and "left out for 1 few-shot cell(s) (few-shot/Japan)" in said
    assert local_main(argv + ["--steering_method", "persona", "--group", "age=18-29", "--group", "sex=female"],
                      script="RQ2") == 0
    assert "wrote 30 prompts for 10 condition(s)" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {(r["group_var"], r.get("perturb_family", "")) for r in rows} >= {("age", "order"), ("sex", "reversed")}


def test_a_study_file_plans_and_counts_the_members(tmp_path):
    toml = tmp_path / "study.toml"
    toml.write_text(f"""
[output]
results_root = "{tmp_path / 'results'}"
[probe]
methods = ["logprob"]
limit = 2
[[models]]
backend = "local"
[experiments.RQ2]
countries = ["Japan"]
steering_methods = ["persona", "few-shot"]
perturb = ["order:2", "examples:1"]
[human]
synthetic = true
""", encoding="utf-8")
    study = load_study(toml)
    assert study.experiments.rq2_perturb == ("order:2", "examples:1") and study.experiments.perturb == ()
    (jobs,) = study_jobs(study).values()
    got = {j.label: ([c.spec.condition_folder()[-1] for c in j.conditions], estimate(j).prompts) for j in jobs}
    assert got == {"logprob RQ2 persona/Japan": (["Japan", "order-1", "order-2", "examples-1"], 8),
                   "logprob RQ2 few-shot/Japan": (["Japan", "order-1", "order-2"], 6)}
    toml.write_text(toml.read_text().replace('"examples:1"', '"colour:3"'), encoding="utf-8")
    with pytest.raises(UserError, match="write order:K") as err:
        load_study(toml)
    assert "\n" not in str(err.value) and str(toml) in str(err.value)


def test_bad_combinations_are_one_line(tmp_path, capsys, inputs):
    base = ["--model_name_or_path", "m", "--country", "Japan", "--steering_method", "persona",
            "--dry-run", str(tmp_path / "x.jsonl")]
    for extra, says in ((["--perturb", "colour:3"], "write order:K"),
                        (["--perturb", "template:99", "--steering_method", "few-shot-unnamed"],
                         "template:K takes K up to"),
                        (["--perturb", "order:2", "--protocol", "release", "--release-dir", str(tmp_path)],
                         "had no perturbations")):
        assert api_main(base + extra, script="RQ2") == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err
    # another language: its wording file missing, then a wording without the key the condition reads
    select = (lambda its: its[:2])
    cell = rq2_cell("Japan", "language_persona", select, None, inputs)
    member = perturb.parse_spec("template:1")[0]

    def build():
        return perturb.member_condition(member, cell.items, "logprob", cell.spec, steer=cell.steer, inputs_dir=inputs)

    path = inputs / "perturb" / "templates" / "Japanese.json"
    path.unlink(missing_ok=True)
    with pytest.raises(UserError, match="Japanese.json not found") as err:
        build()
    assert "\n" not in str(err.value)
    prompts = json.loads((inputs / "prompts" / "Japanese.json").read_text(encoding="utf-8"))
    path.write_text(json.dumps({"wordings": [{"verbalized_persona": "本 " + prompts["verbalized_persona"]}]}),
                    encoding="utf-8")
    with pytest.raises(UserError, match="wording 1 has no 'logprob_persona' key") as err:
        build()
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    path.write_text(json.dumps({"wordings": [{"logprob_persona": "本 " + prompts["logprob_persona"]}]}),
                    encoding="utf-8")
    assert build().requests[0].messages[-1].content.startswith("本 ")  # the language's own wording, now read


# --- the analysis: each steering gain under every prompt, on fixed answers --------------------------------------

ITEMS = ["Q1", "Q2", "Q3", "Q4", "Q5"]
COUNTRIES = [156, 392, 840]  # 392: Japan
MODELS = ["org/m-a", "org/m-b"]
PROMPTS = {"none": ["original", "order-1", "template-1"], "persona/Japan": ["original", "order-1", "order-2"],
           "few-shot/Japan": ["original", "template-1"]}
def _write(root, model, cond, prompt, dist):
    steering, country = cond.split("/") if "/" in cond else ("none", "")
    family, index = prompt.split("-") if prompt != "original" else ("", "")
    layout = ("RQ1",) if cond == "none" else ("RQ2", steering, country)
    folder = root.joinpath(*(layout if not family else ("Robustness", *layout, prompt)), model)
    write_answers(folder, ITEMS, dist, experiment="RQ1" if cond == "none" else "RQ2", model=model,
                  steering_method=steering, country=country, perturb_family=family, perturb_index=index,
                  perturb_seed="0" if family else "")


def test_robustness_gives_each_steering_gain_under_every_prompt(tmp_path):
    rng = np.random.default_rng(7)
    counts = rng.integers(5, 80, size=(len(COUNTRIES), len(ITEMS), 4))
    pd.DataFrame([{"country_code": c, "item_id": q, "option": str(k + 1), "count": int(counts[ci, qi, k])}
                  for ci, c in enumerate(COUNTRIES) for qi, q in enumerate(ITEMS) for k in range(4)]
                 ).to_csv(tmp_path / "human.csv", index=False)
    answers = {}
    for model in MODELS:
        for cond, prompts in PROMPTS.items():
            for prompt in prompts:
                answers[model, cond, prompt] = rng.dirichlet(np.ones(4), size=len(ITEMS))
                _write(tmp_path / "results", model, cond, prompt, answers[model, cond, prompt])
    out = tmp_path / "figs"
    script = load_script("show_results/robustness.py")
    assert script.main(["--human", str(tmp_path / "human.csv"), "--results-root", str(tmp_path / "results"),
                        "--out", str(out), "--n-boot", "10", "--formats", "png"]) == 0

    japan = counts[COUNTRIES.index(392)] / counts[COUNTRIES.index(392)].sum(-1, keepdims=True)
    pos = np.arange(4)

    def japan_score(model, cond, prompt):  # the mean over items of 1 - W1/(N-1), against Japan's shares
        return np.mean([1 - wasserstein_distance(pos, pos, a, h) / 3
                        for a, h in zip(answers[model, cond, prompt], japan)])

    per_prompt = pd.read_csv(out / "robustness_steering_prompts.csv")
    summary = pd.read_csv(out / "robustness_steering.csv").set_index(["model", "condition"])
    for model in MODELS:
        for cond in ("persona/Japan", "few-shot/Japan"):
            both = [p for p in PROMPTS[cond] if p in PROMPTS["none"]]
            gains = {p: japan_score(model, cond, p) - japan_score(model, "none", p) for p in both}
            got = per_prompt[(per_prompt.model == model) & (per_prompt.condition == cond)].set_index("perturbation")
            assert sorted(got.index) == sorted(both)
            for p, g in gains.items():
                assert got.loc[p, "gain"] == pytest.approx(g, abs=2e-6)
                assert got.loc[p, "steered"] == pytest.approx(japan_score(model, cond, p), abs=2e-6)
                assert bool(got.loc[p, "same_sign"]) == (np.sign(g) == np.sign(gains["original"]))
            own = [japan_score(model, cond, p) for p in PROMPTS[cond]]
            row = summary.loc[(model, cond)]
            g = np.array(list(gains.values()))
            assert row["gain_original"] == pytest.approx(gains["original"], abs=2e-6)
            assert row["steered_mean"] == pytest.approx(np.mean(own), abs=2e-6)
            assert row["steered_std"] == pytest.approx(np.std(own, ddof=1), abs=2e-6)
            assert row["n_prompts_steered"] == len(own) and row["n_prompts_both"] == len(both)
            assert row["gain_mean"] == pytest.approx(g.mean(), abs=2e-6)
            assert row["gain_std"] == pytest.approx(g.std(ddof=1), abs=2e-6)
            assert row["gain_min"] == pytest.approx(g.min(), abs=2e-6)
            assert row["sign_kept"] == pytest.approx(np.mean(np.sign(g) == np.sign(gains["original"])))
    # the unperturbed RQ2 analyses see one file per model and cell, never a perturbed one
    files = model_files(tmp_path / "results", "RQ2")
    assert len(files) == len(MODELS) * 2 and not any(f.spec.prompt for f in files)
