"""The run spec alone names a condition on disk: its folder, its identity columns, reading itself back
from a row, its duplicate key; the schema reads every earlier header generation."""
from __future__ import annotations

import itertools

import pytest

from utils.core.errors import UserError
from utils.core.results.schema import COLUMNS, VERSIONS, migrate, row_problem, version_of
from utils.core.results.spec import IDENTITY_COLUMNS, Decoding, Experiment, Perturbation, RunSpec

# Folders written out by hand, as the docs promise them (an independent statement of the layout).
FOLDERS = [
    (RunSpec(Experiment.RQ1, name="org/m"), "RQ1/org/m"),
    (RunSpec(Experiment.RQ2, steering="persona", country="Japan", name="m"), "RQ2/persona/Japan/m"),
    (RunSpec(Experiment.RQ2, steering="few-shot", country="Japan", group=("age", "18-29"), name="m"),
     "RQ2/few-shot/Japan/age=18-29/m"),
    (RunSpec(Experiment.SENSITIVITY, variant="order", name="m"), "Discussion/sensitivity/order/m"),
    (RunSpec(Experiment.RQ1, perturbation=Perturbation("order", 3), name="m"), "Robustness/RQ1/order-3/m"),
    (RunSpec(Experiment.RQ1, perturbation=Perturbation("order", 3, 7), name="m"), "Robustness/RQ1/order-3@7/m"),
    (RunSpec(Experiment.RQ2, steering="persona", country="Japan", group=("sex", "female"),
             perturbation=Perturbation("labels", 1), name="m"), "Robustness/RQ2/persona/Japan/sex=female/labels-1/m"),
    (RunSpec(Experiment.RQ1, repeat=2, seed=1, name="m"), "Repeats/RQ1/repeat-2/m"),
    (RunSpec(Experiment.RQ1, perturbation=Perturbation("order", 1), repeat=3, name="m"),
     "Repeats/Robustness/RQ1/order-1/repeat-3/m"),
]


@pytest.mark.parametrize("spec, folder", FOLDERS, ids=[f for _, f in FOLDERS])
def test_each_spec_has_its_folder(spec, folder):
    assert str(spec.folder()) == folder


def test_a_model_name_that_would_leave_the_results_root_is_refused():
    with pytest.raises(UserError, match="cannot be used as a results folder"):
        RunSpec(Experiment.RQ1, name="../../etc").folder()


def _all_specs():
    for (spec, _), method, decoding, protocol in itertools.product(
            FOLDERS, ["verbalized", "logprob", "sample"], [Decoding(), Decoding("0.7", "512", "40")],
            [("ours", ""), ("release", "abc123")]):
        yield spec.replace(model="/abs/m", name="m", method=method, decoding=decoding, protocol=protocol[0],
                           release_commit=protocol[1], language="Japanese")


def test_a_spec_reads_itself_back_from_its_columns():
    specs = list(_all_specs())
    for spec in specs:
        row = {**spec.columns(), "id": "Q1", "prompt_sha256": "ab"}
        assert RunSpec.from_row(row) == spec
    assert len({s.key() for s in specs}) == len(FOLDERS)  # the key ignores how a model was asked


def test_columns_are_the_values_files_have_always_had():
    """RQ1 rows say `none` and `default` where a condition has no steering or variant (files of every
    version say so), and the identity columns are one tuple, in the file's order."""
    row = RunSpec(Experiment.RQ1, model="m", language="English").columns()
    assert (row["steering_method"], row["variant"], row["country"], row["group_var"], row["repeat"], row["seed"]) == \
        ("none", "default", "", "", "", "")
    assert tuple(row) == IDENTITY_COLUMNS
    assert set(IDENTITY_COLUMNS) <= set(COLUMNS)


def test_every_header_generation_is_read_in_the_current_columns():
    """Each generation adds columns at the end; its rows read with them at the "not used" value, and
    rows from before the protocol columns read as asked our way."""
    assert [version_of(VERSIONS[v]) for v in VERSIONS] == list(VERSIONS)
    for old, new in itertools.pairwise(sorted(VERSIONS)):
        assert VERSIONS[new][: len(VERSIONS[old])] == VERSIONS[old]
    row = dict.fromkeys(VERSIONS[2], "") | {"id": "Q1"}
    assert migrate(row, 2)["protocol"] == "ours" and tuple(migrate(row, 2)) == COLUMNS
    assert migrate(dict.fromkeys(VERSIONS[4], "") | {"protocol": "release"}, 4)["protocol"] == "release"
    assert version_of(list(VERSIONS[5])[:-1]) is None


@pytest.mark.parametrize("distribution, problem", [
    ('{"1": 0.5, "2": 0.5}', ""),
    ('{"1": 0.9, "2": 0.467}', "sums to 1.367"),
    ('{"1": -0.5, "2": 1.5}', "not a JSON mapping"),
    ("not json", "not a JSON mapping"),
    ('{"1": true, "2": 0}', "not a JSON mapping"),
])
def test_an_ok_row_must_hold_a_probability_mapping(distribution, problem):
    got = row_problem({"id": "Q1", "status": "ok", "distribution": distribution})
    assert (problem in got) if problem else got == ""
