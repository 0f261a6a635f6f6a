"""`--models` means one thing in every analysis: "a,b" by full or short name, "all" or absent every
model, and a name that matches no results is a one-line error naming it (not a smaller table)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_elicitation import LOGPROB, VERBALIZED, write_human, write_run
from test_robustness import write_fixture
from wvs_fixtures import load_script

from utils.analysis.answers import wanted_models
from utils.core.errors import UserError

FOUND = {"org/model-a", "model-b", "other/model-b2"}


def expected(models: str | None) -> set[str]:
    """The rule, written out: each name must be some model's full name or its part after the last '/'."""
    if models is None or models.strip().lower() == "all":
        return set(FOUND)
    out = set()
    for name in (m.strip() for m in models.split(",") if m.strip()):
        hits = {m for m in FOUND if name in (m, m.split("/")[-1])}
        if not hits:
            raise UserError(name)
        out |= hits
    return out


@pytest.mark.parametrize("models", [None, "all", " ALL ", "model-a", "org/model-a", "model-b", "model-b2,model-a",
                                    "model-b, ,org/model-a"])
def test_selection_matches_the_rule(models):
    assert wanted_models(models, FOUND, "RQ1", "results") == expected(models)


@pytest.mark.parametrize("models", ["model", "org/model-b", "model-a,model-c"])
def test_a_name_matching_nothing_is_named(models):
    with pytest.raises(UserError) as err:
        expected(models)
    with pytest.raises(UserError, match=f"no RQ1 results for model\\(s\\) {err.value} under results$"):
        wanted_models(models, FOUND, "RQ1", "results")


@pytest.fixture(scope="module")
def robust(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    human, *_ = write_fixture(root, np.random.default_rng(3))
    return human, root


def robustness(robust, *extra):
    human, root = robust
    return load_script("show_results/robustness.py").main(
        ["--human", str(human), "--results-root", str(root / "results"), "--out", str(root / "figs"), "--n-boot", "20",
         "--formats", "png", *extra])


def test_robustness_refuses_an_unknown_model(robust, capsys):
    assert robustness(robust, "--models", "org/model-a,org/model-x") == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        f"no RQ1 or RQ2 results for model(s) org/model-x under {robust[1] / 'results'}")


def test_robustness_takes_a_short_name(robust):
    assert robustness(robust, "--models", "model-b") == 0
    assert set(pd.read_csv(robust[1] / "figs" / "robustness_scores.csv")["model"]) == {"org/model-b"}


def test_elicitation_takes_all(tmp_path):
    a, b = tmp_path / "paper", tmp_path / "logprob"
    write_run(a / "RQ1" / "org" / "m1" / "results.csv", VERBALIZED)
    write_run(b / "RQ1" / "org" / "m1" / "results.csv", LOGPROB, "logprob")
    human, out = write_human(tmp_path / "WV7.csv"), tmp_path / "out"
    assert load_script("show_results/elicitation.py").main(
        ["--human", str(human), "--out", str(out), "--formats", "png", "--n-boot", "50", "--min-coverage", "0",
         "--compare", str(a), str(b), "--models", "all"]) == 0
    assert set(pd.read_csv(out / "elicitation_methods.csv")["model"]) == {"org/m1"}
