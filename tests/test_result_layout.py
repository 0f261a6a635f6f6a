"""What a results file is: identity from its rows' columns when present, else from its path;
files refused when unreadable or mixing conditions; one file per model and condition."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from utils.core.errors import UserError
from utils.core.result_layout import ResultFile, describe, find_result_files, one_per_condition, read_result_rows

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
    f = describe(write(tmp_path / "RQ1" / "Qwen" / "Q-72B" / "results.csv", [row()]), tmp_path)
    assert (f.experiment, f.method, f.country, f.model, f.probe_method) == ("RQ1", "none", "", "Qwen/Q-72B",
                                                                            "verbalized")


def test_our_older_files_take_the_probe_method_from_the_method_column(tmp_path):
    f = describe(write(tmp_path / "RQ2" / "persona" / "Japan" / "m" / "results.csv", [row(method="logprob")]), tmp_path)
    assert (f.experiment, f.method, f.country, f.model, f.probe_method) == ("RQ2", "persona", "Japan", "m", "logprob")


def test_identity_columns_win_over_the_path(tmp_path):
    ident = {"experiment": "RQ2", "model": "org/m", "method": "logprob", "steering_method": "language_persona",
             "country": "Korea", "language": "Korean", "variant": "default"}
    path = write(tmp_path / "elsewhere" / "anything" / "results.csv", [row(**ident), row("Q2", **ident)])
    f = describe(path, tmp_path)
    assert f == ResultFile(path, "RQ2", "language_persona", "Korea", "org/m", "logprob", "Korean")
    sens = write(tmp_path / "RQ1" / "x" / "results.csv", [row(**ident | {"experiment": "sensitivity", "variant": "order",
                                                                            "steering_method": "none", "country": ""})])
    assert (describe(sens, tmp_path).experiment, describe(sens, tmp_path).method) == ("sensitivity", "order")
    assert [x.path for x in find_result_files(tmp_path)] == [sens, path]  # found outside the paper's layout too


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
    assert describe(path, tmp_path).model == "m"  # describing never fails; reading says what is wrong
    with pytest.raises(UserError) as exc:
        read_result_rows(path)
    msg = str(exc.value)
    assert says in msg and str(path) in msg and "\n" not in msg


def test_a_file_mixing_probe_methods_is_refused(tmp_path):
    path = write(tmp_path / "results.csv", [row("Q1", method="logprob"), row("Q2", method="verbalized")])
    with pytest.raises(UserError, match=r"mixes conditions \(method: logprob, verbalized\)"):
        read_result_rows(path)
    same = write(tmp_path / "ok.csv", [row("Q1", method="logprob", prompt_sha256="a"),
                                       row("Q2", method="logprob", prompt_sha256="b")])
    assert len(read_result_rows(same)) == 2  # the prompt hash differs per item by nature


@pytest.mark.parametrize("column", ["experiment", "model", "steering_method", "country", "language", "variant",
                                    "temperature", "max_new_tokens", "samples"])
def test_every_identity_column_must_be_one_value(tmp_path, column):
    path = write(tmp_path / "results.csv", [row("Q1", **{column: "a"}), row("Q2", **{column: "b"})])
    with pytest.raises(UserError, match=f"{column}: a, b"):
        read_result_rows(path)


def _file(model, probe, method="none", name="results.csv"):
    return ResultFile(Path(f"/r/{model}/{probe}/{name}"), "RQ1", method, "", model, probe)


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
