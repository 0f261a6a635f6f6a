"""Prompt perturbations: specs, seeded permutations, the data they read, and answers mapped back
to the items' codes through a real API backend talking to a real HTTP server."""
from __future__ import annotations

import json
import re

import numpy as np
import openai
import openai_server
import pytest
from scipy.stats import wasserstein_distance

from utils.analysis.answers import load_answers
from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.records import ProbeResult
from utils.core.results.spec import Experiment, RunSpec
from utils.probing import perturb
from utils.probing.backends.api.backend import ApiBackend
from utils.probing.prompts import build_requests, prompt_text, render_messages
from utils.probing.results_store import ResultStore, result_row
from utils.probing.loop import ask
from utils.probing.methods.verbalized import Verbalized


@pytest.fixture(scope="module")
def items():
    return load_questionnaire(questionnaire_path())


def test_specs_expand_to_members_with_their_seed():
    assert [(p.family, p.index, p.seed) for p in perturb.parse_spec("order:3@7")] == \
        [("order", 1, 7), ("order", 2, 7), ("order", 3, 7)]
    assert [p.name for p in perturb.parse_specs(["order:2", "order:reversed", "labels", "order:1"])] == \
        ["order-1", "order-2", "reversed-1", "labels-1"]
    columns = RunSpec(Experiment.RQ1, perturbation=perturb.parse_spec("template:2")[1]).columns()
    assert {k: columns[k] for k in ("perturb_family", "perturb_index", "perturb_seed")} == \
        {"perturb_family": "template", "perturb_index": "2", "perturb_seed": "0"}
    for bad in ("order", "order:0", "colour:3", "labels:2", "examples:x", "order:reversed:2"):
        with pytest.raises(UserError, match="write order:K"):
            perturb.parse_spec(bad)


def test_permutations_are_seeded_per_item(items):
    p1, p2 = perturb.parse_spec("order:2")
    q1 = items[0]
    first = perturb.show(q1, p1)
    assert perturb.show(q1, p1) == first  # the same every time
    assert sorted(first.codes) == sorted(q1.choice_keys) and first.item.choice_keys == ("1", "2", "3", "4")
    # the shown options are the listed ones in the permuted order, their codes alongside
    by_code = dict(zip(q1.choice_keys, q1.choices))
    assert [by_code[c] for c in first.codes] == list(first.item.choices)
    # another seed, or another item set around it, does not change what seed 0 gives this item
    assert perturb.permutation("Q1", 4, p1) == perturb.permutation("Q1", 4, perturb.Perturbation("order", 1, 0))
    draws = {perturb.permutation(it.id, len(it.choice_keys), p) for it in items[:20] for p in (p1, p2)
             if len(it.choice_keys) == 4}
    assert len(draws) > 5  # permutations vary over items and members
    rev = perturb.show(q1, perturb.parse_spec("order:reversed")[0])
    assert rev.codes == tuple(reversed(q1.choice_keys)) and rev.item.choices == tuple(reversed(q1.choices))


def test_restore_maps_labels_back_to_codes_by_hand(items):
    shown = perturb.Shown(perturb.show(items[0], perturb.parse_spec("order:1")[0]).item, ("3", "1", "4", "2"), items[0])
    res = ProbeResult("Q1", "ok", {"1": .1, "2": .6, "3": .0, "4": .3}, extra={"sample_counts": {"1": 1, "2": 6}})
    back = perturb.restore(res, shown)
    assert back.distribution == {"3": .1, "1": .6, "4": .0, "2": .3}
    assert back.extra["sample_counts"] == {"3": 1, "1": 6}
    stored = shown.stored()
    assert stored.choice_keys == ("3", "1", "4", "2") and stored.order == items[0].order


def test_examples_templates_and_labels_read_their_data(items):
    pool = json.loads((INPUTS_DIR / "perturb" / "format_examples" / "English.json").read_text())["examples"]
    assert len(pool) >= 20
    for ex in pool:  # made-up shares over the example's own options, adding up to 100
        assert set(ex["percentages"]) == {k for k, _ in ex["options"]} and sum(ex["percentages"].values()) == \
            pytest.approx(100)
    sets = [perturb.prompt_set(p).examples for p in perturb.parse_spec("examples:3")]
    assert all(len(s) == 5 for s in sets) and len({tuple(e.question for e in s) for s in sets}) == 3
    questions = {e["question"] for e in pool}
    assert all(e.question in questions for s in sets for e in s)
    wordings = json.loads((INPUTS_DIR / "perturb" / "templates" / "English.json").read_text())["wordings"]
    texts = set()
    for p in perturb.parse_spec(f"template:{len(wordings)}"):
        user = render_messages(items[0], "logprob", perturb.prompt_set(p))[-1].content
        assert user.startswith(wordings[p.index - 1]["logprob"].split("$")[0])
        assert items[0].question in user
        texts.add(user)
    assert len(texts) == len(wordings)
    with pytest.raises(UserError, match="template:K takes K up to"):
        perturb.prompt_set(perturb.Perturbation("template", len(wordings) + 1))
    lab = perturb.parse_spec("labels")[0]
    shown = perturb.show(items[0], lab, perturb.letters_for())
    user = render_messages(shown.item, "verbalized", perturb.prompt_set(lab))[-1].content
    assert "A. Very important" in user and "D. Not at all important" in user and "{'A': '" in user
    assert "1. Very important" not in user


def _server_model(monkeypatch, choose):
    """The fake server answers 100% on the option line `choose(question, [(label, text), ...])` picks."""
    monkeypatch.setattr(openai_server, "answer_for", openai_server.answer_picking(choose))


def _scores(tmp_path, server, items, members, name: str) -> dict[str, np.ndarray]:
    """Each member's item scores against fixed made-up human shares, computed with scipy from the
    answers the analysis reads back from the stored rows."""
    client = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0, timeout=10)
    backend = ApiBackend(client, "test-model", backoff_s=0.01)
    rng = np.random.default_rng(5)
    human = {it.id: rng.dirichlet(np.ones(len(it.order))) for it in items}
    out = {}
    for p in members:
        ps = perturb.prompt_set(p)
        path = tmp_path / name / (p.name if p else "original") / "results.csv"
        with ResultStore(path) as store:
            for it in items:
                shown = perturb.show(it, p)
                request = build_requests([shown.item], "verbalized", ps)[0]
                [(_, result)] = ask(backend, Verbalized(), [request])
                result = perturb.restore(result, shown)
                assert result.status == "ok", prompt_text(request)
                store.append(result_row(shown.stored(), result, "verbalized"))
        ans = load_answers(path, [it.id for it in items], [it.order for it in items])
        out[p.name if p else "original"] = np.array([
            1 - wasserstein_distance(np.arange(len(it.order)), np.arange(len(it.order)), ans[i, :len(it.order)],
                                     human[it.id]) / (len(it.order) - 1) for i, it in enumerate(items)])
    return out


def test_a_model_that_picks_a_code_scores_the_same_under_every_order(tmp_path, server, items, monkeypatch):
    chosen = items[:6]
    text_of_code_2 = {it.question: dict(zip(it.choice_keys, it.choices))["2"] for it in chosen}
    _server_model(monkeypatch, lambda q, lines: next(lab for lab, text in lines if text == text_of_code_2[q]))
    members = [None] + perturb.parse_specs(["order:5", "order:reversed"])
    scores = _scores(tmp_path, server, chosen, members, "content")
    for name, s in scores.items():
        np.testing.assert_allclose(s, scores["original"], atol=1e-12, err_msg=name)
    # and the permutations did move the option worded that way to other labels
    moved = {perturb.show(it, p).codes.index("2") for it in chosen for p in members[1:]}
    assert len(moved) > 1


def test_a_model_that_picks_the_first_listed_option_does_not(tmp_path, server, items, monkeypatch):
    chosen = items[:6]
    _server_model(monkeypatch, lambda q, lines: lines[0][0])
    members = [None] + perturb.parse_specs(["order:5", "order:reversed"])
    scores = _scores(tmp_path, server, chosen, members, "first")
    totals = {name: round(float(s.mean()), 9) for name, s in scores.items()}
    assert len(set(totals.values())) > 2, totals
    # what it picked is the first listed code, mapped back: under reversed, each item's last code
    rev = load_answers(tmp_path / "first" / "reversed-1" / "results.csv", [it.id for it in chosen],
                       [it.order for it in chosen])
    for i, it in enumerate(chosen):
        assert rev[i, it.order.index(it.choice_keys[-1])] == pytest.approx(1.0)
