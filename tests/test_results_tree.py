"""What a results file is: its spec from its rows' columns when present, else from its path; files
refused when unreadable or mixing conditions; one file per model and condition; named runs apart."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from utils.core.errors import UserError
from utils.core.results.spec import Experiment, RunSpec
from utils.core.results.table import read_complete
from utils.core.results.tree import ResultsFile, describe, find_results, named_run, one_per_condition

PAPER = ["id", "question", "choices", "choice_keys", "answer", "type", "response"]


def write(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = columns or list(dict.fromkeys(PAPER + [k for r in rows for k in r]))
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, columns)
        w.writeheader()
        w.writerows(rows)
    return path


def row(item="Q1", **extra) -> dict:
    return {"id": item, "choice_keys": "['1', '2']", "response": "{'1': '50%', '2': '50%'}", **extra}


def test_release_files_are_described_by_their_path(tmp_path):
    f = describe(write(tmp_path / "RQ1" / "Qwen" / "Q-72B" / "results.csv", [row()]), tmp_path).spec
    assert (f.experiment, f.condition, f.country, f.model, f.method) == ("RQ1", None, None, "Qwen/Q-72B", "verbalized")


def test_our_older_files_take_the_probe_method_from_the_method_column(tmp_path):
    f = describe(write(tmp_path / "RQ2" / "persona" / "Japan" / "m" / "results.csv", [row(method="logprob")]),
                 tmp_path).spec
    assert (f.experiment, f.condition, f.country, f.model, f.method) == ("RQ2", "persona", "Japan", "m", "logprob")


def test_identity_columns_win_over_the_path(tmp_path):
    ident = {"experiment": "RQ2", "model": "org/m", "method": "logprob", "steering_method": "language_persona",
             "country": "Korea", "language": "Korean", "variant": "default"}
    path = write(tmp_path / "anywhere" / "else" / "results.csv", [row(**ident), row("Q2", **ident)])
    f = describe(path, tmp_path)
    assert f == ResultsFile(path, RunSpec(Experiment.RQ2, steering="language_persona", country="Korea",
                                          language="Korean", model="org/m", method="logprob"), tmp_path)
    sens = write(tmp_path / "RQ1" / "x" / "results.csv", [row(**ident | {"experiment": "sensitivity", "variant": "order",
                                                                            "steering_method": "none", "country": ""})])
    assert (describe(sens, tmp_path).spec.experiment, describe(sens, tmp_path).spec.condition) == ("sensitivity",
                                                                                                  "order")
    assert [x.path for x in find_results(tmp_path)] == [sens, path]  # found outside the paper's layout too


def test_named_runs_are_a_root_of_their_own(tmp_path):
    """`--run-name NAME` writes under `<root>/runs/NAME`: walking the root leaves it out (it would be a
    second file for the same model and condition), and the named root holds it in the usual layout."""
    main = write(tmp_path / "RQ1" / "m" / "results.csv", [row(method="logprob")])
    named = write(named_run(tmp_path, "t07") / "RQ1" / "m" / "results.csv", [row(method="verbalized")])
    assert [f.path for f in find_results(tmp_path)] == [main]
    assert [f.path for f in find_results(named_run(tmp_path, "t07"))] == [named]
    with pytest.raises(UserError, match="one folder name"):
        named_run(tmp_path, "../up")


@pytest.mark.parametrize("content, says", [
    (b"", "is empty"),
    (b"id,question,choices,choice_keys,answer,type,response\n", "has a header but no rows"),
    (bytes(range(256)) * 4, "not UTF-8"),
    (b"name,age\nBob,3\n", "no id, choice_keys, response column"),
])
def test_unusable_files_are_one_line_naming_them(tmp_path, content, says):
    path = tmp_path / "RQ1" / "m" / "results.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert describe(path, tmp_path).spec.model == "m"  # describing never fails; reading says what is wrong
    with pytest.raises(UserError) as exc:
        read_complete(path)
    msg = str(exc.value)
    assert says in msg and str(path) in msg and "\n" not in msg


def test_a_file_mixing_probe_methods_is_refused(tmp_path):
    path = write(tmp_path / "results.csv", [row("Q1", method="logprob"), row("Q2", method="verbalized")])
    with pytest.raises(UserError, match=r"mixes conditions \(method: logprob, verbalized\)"):
        read_complete(path)
    same = write(tmp_path / "ok.csv", [row("Q1", method="logprob", prompt_sha256="a"),
                                       row("Q2", method="logprob", prompt_sha256="b")])
    assert len(read_complete(same).rows) == 2  # the prompt hash differs per item by nature


@pytest.mark.parametrize("column", ["experiment", "model", "steering_method", "country", "language", "variant",
                                    "temperature", "max_new_tokens", "samples"])
def test_every_identity_column_must_be_one_value(tmp_path, column):
    path = write(tmp_path / "results.csv", [row("Q1", **{column: "a"}), row("Q2", **{column: "b"})])
    with pytest.raises(UserError, match=f"{column}: a, b"):
        read_complete(path)


def _file(model, probe, method=None, name="results.csv"):
    spec = RunSpec(Experiment.RQ1 if method is None else Experiment.RQ2, steering=method,
                   country=None if method is None else "Japan", model=model, method=probe)
    return ResultsFile(Path(f"/r/{model}/{probe}/{name}"), spec, Path("/r"))


def test_one_file_per_model_and_condition():
    a, b, c = _file("m", "logprob"), _file("m", "verbalized"), _file("n", "verbalized")
    with pytest.raises(UserError, match="more than one probe method .*choose one with --probe-method"):
        one_per_condition([a, b, c])
    assert one_per_condition([a, b, c], "verbalized") == [b, c]
    assert one_per_condition([a, b, c], "logprob") == [a]
    with pytest.raises(UserError, match=r"no results by probe method sample \(found logprob, verbalized\)"):
        one_per_condition([a, b, c], "sample")
    with pytest.raises(UserError, match="two results files for m in the same condition"):
        one_per_condition([a, _file("m", "logprob", name="other.csv")])
    assert one_per_condition([a, _file("m", "logprob", method="persona")]) == [a, _file("m", "logprob", "persona")]
