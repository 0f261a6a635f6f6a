"""Reading model answers for analysis: the `distribution` column at full precision, the release's
`response` parsed, renumbered translated options mapped by position, the newest row of an id."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.analysis.answers import AnswerPolicy, load_answers, position_map, questionnaire_items, read_row
from utils.core.errors import UserError
from utils.core.paths import QUESTIONS_DIR
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.probing.results_store import COLUMNS

IDS, ORDERS = questionnaire_items()


def shown(policy: AnswerPolicy) -> str:
    """What the coverage lines say, as a script shows them (`Result.lines`)."""
    return "\n".join(policy.said.shown())


def write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys([c for r in rows for c in r]))
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, columns)
        w.writeheader()
        w.writerows(rows)
    return path


def ours(item: str, keys: list[str], dist: dict | None, status: str = "ok", response: str = "", **extra) -> dict:
    """A row in our store's columns."""
    row = dict.fromkeys(COLUMNS, "")
    row.update(id=item, choice_keys=repr(keys), response=response, status=status, method="logprob",
               distribution=json.dumps(dist) if dist is not None else "", **extra)
    return row


def release(item: str, keys: list[str], shares: dict) -> dict:
    """A row in the original release's columns (id, ..., response only)."""
    return {"id": item, "question": "q", "choices": repr(keys), "choice_keys": repr(keys), "answer": "",
            "type": "Opinion-Dependent", "response": repr({k: f"{v}%" for k, v in shares.items()})}


def at(ans: np.ndarray, item: str) -> np.ndarray:
    i = IDS.index(item)
    return ans[i, :len(ORDERS[i])]


def test_distribution_column_is_read_at_full_precision(tmp_path):
    dist = {"1": 0.123456789, "2": 0.876543211, "3": 0.0, "4": 0.0}
    path = write(tmp_path / "results.csv", [ours("Q1", ["1", "2", "3", "4"], dist,
                                                   response="{'1': '12.35%', '2': '87.65%'}")])
    ans = load_answers(path, IDS, ORDERS, AnswerPolicy(min_coverage=0.0))
    np.testing.assert_allclose(at(ans, "Q1"), [0.123456789, 0.876543211, 0, 0],
                               rtol=0, atol=1e-15)


def test_our_rows_are_read_by_status_not_reparsed(tmp_path):
    good = "{'1': '50%', '2': '50%'}"
    rows = [ours("Q1", ["1", "2", "3", "4"], None, "unparsed", response=good),  # status decides, not the text
            ours("Q2", ["1", "2", "3", "4"], None, "error", error="HTTP 500"),
            ours("Q3", ["1", "2", "3", "4"], None, "ok", response=good)]  # ok without a distribution: unreadable
    assert [read_row(r).reason for r in rows] == ["unparsed", "error", "unparsed"]
    assert read_row(rows[1]).detail == "HTTP 500" and read_row(rows[2]).detail == "bad_distribution"
    assert np.isnan(load_answers(write(tmp_path / "r.csv", rows[:2]), IDS, ORDERS, AnswerPolicy(min_coverage=0.0))[:2]).all()
    # an `ok` row the prober would refuse is a damaged file, never a quiet "unparsed" (issue 28)
    with pytest.raises(UserError, match=r"r2.csv, line 4 \(Q3\) is 'ok' but its distribution is not a JSON mapping"):
        load_answers(write(tmp_path / "r2.csv", rows), IDS, ORDERS, AnswerPolicy(min_coverage=0.0))


def test_the_newest_row_of_an_id_wins(tmp_path):
    keys = ["1", "2", "3", "4"]
    path = write(tmp_path / "r.csv", [ours("Q1", keys, {"1": 1.0}), ours("Q1", keys, {"2": 1.0})])
    np.testing.assert_array_equal(at(load_answers(path, IDS, ORDERS, AnswerPolicy(min_coverage=0.0)), "Q1"), [0, 1, 0, 0])


def test_release_rows_are_parsed_from_response(tmp_path):
    path = write(tmp_path / "r.csv", [release("Q1", ["1", "2", "3", "4"], {"1": 30, "2": 70})])
    np.testing.assert_allclose(at(load_answers(path, IDS, ORDERS, AnswerPolicy(min_coverage=0.0)), "Q1"), [0.3, 0.7, 0, 0])


def test_position_map():
    assert position_map(["1", "2", "3"], ("2", "1", "0")) == {"1": "2", "2": "1", "3": "0"}
    assert position_map(["0", "2", "1"], ("2", "1", "0")) is None  # same codes, shown shuffled: by code
    assert position_map(["1", "2"], ("2", "1", "0")) is None  # a different count: by code
    assert position_map(["1", "2", "3"], None) is None  # an item outside the questionnaire


def test_a_renumbered_file_is_mapped_by_position(tmp_path):
    """The release's Korean file: Q122 options 1, 2, 3 for WVS codes 2, 1, 0; Q119 1..5 for 1, 2, 3, 4, 0."""
    path = write(tmp_path / "RQ2" / "language" / "Korea" / "m" / "results.csv", [
        release("Q122", ["1", "2", "3"], {"1": 20, "2": 30, "3": 50}),
        release("Q119", ["1", "2", "3", "4", "5"], {"1": 10, "5": 90}),
        release("Q1", ["1", "2", "3", "4"], {"1": 100})])
    policy = AnswerPolicy(min_coverage=0.0)  # one per script run
    ans = load_answers(path, IDS, ORDERS, policy)
    # Independent reading: the k-th listed option of the file is the k-th listed code of English.
    english = {it.id: it for it in load_questionnaire(questionnaire_path("English"))}
    for item, shares in (("Q122", [20, 30, 50]), ("Q119", [10, 0, 0, 0, 90])):
        by_code = dict(zip(english[item].choice_keys, np.array(shares) / 100))
        np.testing.assert_allclose(at(ans, item), [by_code[c] for c in english[item].order])
    np.testing.assert_array_equal(at(ans, "Q1"), [1, 0, 0, 0])
    load_answers(path, IDS, ORDERS, policy)  # a second read of the same file (RQ2 reads RQ1 once per country)
    notes = [line for line in shown(policy).splitlines() if "mapped by position" in line]
    assert len(notes) == 1 and "2 item(s)" in notes[0] and "(Q119, Q122)" in notes[0] and str(path) in notes[0]


def test_every_renumbered_item_of_the_release_korean_file(reference, tmp_path):
    """All nine renumbered Korean items (and the 135 others, read by code) from the release's own
    questionnaire: each row puts its whole answer on its k-th option."""
    korean = [json.loads(line) for line in (reference / "dataset" / "questions" / "WV7_Korean.jsonl").open()]
    rows = []
    for n, item in enumerate(korean):
        keys = [str(k) for k in item["choice_keys"]]
        rows.append(release(item["id"], keys, {keys[n % len(keys)]: 100}))
    path = write(tmp_path / "results.csv", rows)
    ans = load_answers(path, IDS, ORDERS, AnswerPolicy(min_coverage=0.0))
    english = {it.id: it for it in load_questionnaire(questionnaire_path("English"))}
    for n, item in enumerate(korean):
        code = english[item["id"]].choice_keys[n % len(item["choice_keys"])]
        expected = [1.0 if c == code else 0.0 for c in english[item["id"]].order]
        np.testing.assert_array_equal(at(ans, item["id"]), expected, err_msg=item["id"])
    renumbered = [it["id"] for it in korean if [str(k) for k in it["choice_keys"]] != list(english[it["id"]].choice_keys)]
    assert renumbered == ["Q119"] + [f"Q{n}" for n in range(122, 130)]


@pytest.mark.parametrize("path", sorted(QUESTIONS_DIR.glob("WV7_*.jsonl")), ids=lambda p: p.stem)
def test_our_translated_questionnaires_keep_the_wvs_codes(path):
    english = {it.id: it.choice_keys for it in load_questionnaire(questionnaire_path("English"))}
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        keys = [str(k) for k in item["choice_keys"]]
        if path.stem == "WV7_shuffle":  # options shown in another order, same codes
            assert sorted(keys) == sorted(english[item["id"]]), item["id"]
        else:
            assert tuple(keys) == english[item["id"]], (path.name, item["id"])


def test_a_file_below_the_coverage_floor_is_refused(tmp_path):
    rows = [release(i, list(o), {o[0]: 100}) for i, o in zip(IDS[:100], ORDERS[:100])]
    path = write(tmp_path / "results.csv", rows)
    with pytest.raises(UserError) as exc:
        load_answers(path, IDS, ORDERS)  # default floor 0.9
    assert f"{path}: 100/144 items scored (69.4%)" in str(exc.value) and "--min-coverage 0" in str(exc.value)
    policy = AnswerPolicy(min_coverage=0.0)
    ans = load_answers(path, IDS, ORDERS, policy)
    assert np.isfinite(ans[:100, 0]).all() and np.isnan(ans[100:, 0]).all()
    assert f"coverage {path}: 100/144 items scored (69.4%); left out: 44 absent (Q" in shown(policy)


def test_items_the_human_data_never_asked_do_not_count(tmp_path):
    path = write(tmp_path / "results.csv", [release("Q1", ["1", "2", "3", "4"], {"1": 100})])
    ans = load_answers(path, IDS, ORDERS, AnswerPolicy(asked=frozenset({"Q1", "Q2"}), min_coverage=0.5))
    assert ans[0, 0] == 1.0  # 1 of the 2 asked items: 50%, at the floor
    says = r"1/144 items scored \(50.0% of the 2 the human data asked\); left out: 142 not asked .*1 absent \(Q2\)"
    with pytest.raises(UserError, match=says):
        load_answers(path, IDS, ORDERS, AnswerPolicy(asked=frozenset({"Q1", "Q2"}), min_coverage=0.6))


def test_rq2_scores_a_renumbered_chinese_file_by_position(tmp_path, capsys):
    """The release's Chinese questionnaire numbers Q119 1..5 (WVS 1, 2, 3, 4, 0). China's people all
    answer code 0; a `language` answer of '5': 100% is that same answer, read by position."""
    from test_figures import M1, _steering_inputs, write_human, write_results
    from wvs_fixtures import load_script

    res, out = tmp_path / "results", tmp_path / "out"
    write_results(res / "RQ1" / "m" / "results.csv", M1)
    renumbered = {"Q1": ["1", "2", "3", "4"], "Q57": ["1", "2"], "Q119": ["1", "2", "3", "4", "5"]}
    lang = res / "RQ2" / "language" / "China" / "m" / "results.csv"
    write_results(lang, {"Q1": M1["Q1"], "Q57": M1["Q57"], "Q119": {"5": 100}}, renumbered)
    argv = ["--human", str(write_human(tmp_path / "WV7.csv")), "--results-root", str(res), "--out", str(out),
            "--formats", "png", "--inputs-dir", str(_steering_inputs(tmp_path))]
    script = load_script("show_results/rq2_steering.py")
    assert script.main(argv) == 0
    wide = pd.read_csv(out / "rq2_steering_table.csv").iloc[0]
    # Q1: 5/6 as in test_figures; Q119: code 0 against China's code 0 -> 1 (Q57 is the few-shot item)
    assert wide["language"] == pytest.approx((5 / 6 + 1) / 2, abs=1e-6)
    assert wide["none"] == pytest.approx((5 / 6 + 0) / 2, abs=1e-6)  # RQ1 said code 1: 4 steps away
    assert f"coverage {lang}: options of 1 item(s) numbered 1..N" in capsys.readouterr().out
