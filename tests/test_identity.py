"""Every row knows what it was asked under, and a rerun under anything else is refused before a
request is sent, with the file left byte for byte as it was (issue 11, sections 1 and 2)."""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from openai_server import FakeOpenAIServer

from utils.core.errors import UserError
from utils.core.records import Message
from utils.probing.backends.api import api_backend
from utils.probing.cli import api_config, api_main
from utils.core.results.schema import COLUMNS, STORE_COLUMNS
from utils.probing.identity import prompt_sha256
from utils.probing.grid import plan_for
from utils.probing.loop import run_conditions

ROOT = Path(__file__).resolve().parents[1]
MODEL = "org/m"


class Servers:
    """A server answering with distributions, and one answering as one respondent (`--method sample`)."""

    def __init__(self, plain: FakeOpenAIServer, picker: FakeOpenAIServer):
        self.plain, self.picker = plain, picker
        self.base_url = plain.base_url

    @property
    def requests(self) -> list[dict]:
        return self.plain.requests + self.picker.requests


@pytest.fixture
def srv():
    with FakeOpenAIServer() as plain, FakeOpenAIServer(pick_one=True) as picker:
        yield Servers(plain, picker)


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-identity-0000")


def ask(srv: Servers, root: Path, *extra: str, experiment: str = "RQ1", model: str = MODEL) -> int:
    url = srv.picker.base_url if "sample" in extra else srv.plain.base_url
    return api_main(["--model_name_or_path", model, "--base_url", url, "--results-root", str(root),
                     "--limit", "2", "--quiet", *extra], script=experiment)


def rows_of(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def results(root: Path, *parts: str) -> Path:
    return root.joinpath(*parts, *MODEL.split("/"), "results.csv")


def test_prompt_hash_is_sha256_of_canonical_json():
    """An independent spelling of the canonical form: sorted keys, no spaces, UTF-8."""
    msgs = (Message("system", "Réponds"), Message("user", "Q1?"))
    canon = '[{"content":"Réponds","role":"system"},{"content":"Q1?","role":"user"}]'
    assert prompt_sha256(msgs) == hashlib.sha256(canon.encode("utf-8")).hexdigest()
    assert prompt_sha256(msgs) != prompt_sha256(msgs[::-1])


def test_every_row_carries_its_identity(srv, tmp_path, capsys):
    assert ask(srv, tmp_path, "--method", "verbalized", "--temperature", "0.5") == 0
    assert ask(srv, tmp_path, "--country", "japan", "--steering_method", "language", "--method", "logprob",
               experiment="RQ2") == 0
    assert ask(srv, tmp_path, "--variant", "number", "--method", "sample", "--samples", "4",
               "--sample-temperature", "0.8") == 0
    rq1 = rows_of(results(tmp_path, "RQ1"))
    rq2 = rows_of(results(tmp_path, "RQ2", "language", "Japan"))
    sens = rows_of(results(tmp_path, "Discussion", "sensitivity", "number"))
    assert tuple(rq1[0]) == COLUMNS
    pick = ["experiment", "model", "method", "steering_method", "country", "language", "variant", "temperature",
            "max_new_tokens", "samples"]
    assert [r[k] for k in pick for r in rq1[:1]] == ["RQ1", MODEL, "verbalized", "none", "", "English", "default",
                                                     "0.5", "512", ""]
    assert [rq2[0][k] for k in pick] == ["RQ2", MODEL, "logprob", "language", "Japan", "Japanese", "default",
                                         "", "", ""]
    assert [sens[0][k] for k in pick] == ["sensitivity", MODEL, "sample", "none", "", "English", "number",
                                          "0.8", "512", "4"]
    sent = {json.dumps(b["messages"], sort_keys=True) for b in srv.requests}
    for row in rq1 + rq2 + sens:  # the hash is of a chat that was really sent
        assert any(hashlib.sha256(json.dumps(json.loads(m), ensure_ascii=False, sort_keys=True,
                                             separators=(",", ":")).encode()).hexdigest() == row["prompt_sha256"]
                   for m in sent)


# (flags of the first run, flags of the second, the one line expected)
FLAG_CHANGES = {
    "method": (["--method", "logprob"], ["--method", "verbalized"], "method: logprob in the file, verbalized now"),
    "temperature": (["--method", "verbalized"], ["--method", "verbalized", "--temperature", "0.7"],
                    "temperature: 0 in the file, 0.7 now"),
    "sample temperature": (["--method", "sample", "--samples", "3"],
                           ["--method", "sample", "--samples", "3", "--sample-temperature", "0.5"],
                           "temperature: 1 in the file, 0.5 now"),
    "max_new_tokens": (["--method", "verbalized"], ["--method", "verbalized", "--max-new-tokens", "64"],
                       "max_new_tokens: 512 in the file, 64 now"),
    "samples": (["--method", "sample", "--samples", "3"], ["--method", "sample", "--samples", "5"],
                "samples: 3 in the file, 5 now"),
}


def refused(capsys, code: int, expected: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.count("\n") == 0 and expected in err and "--run-name" in err and "nothing was changed" in err
    return err


@pytest.mark.parametrize("field", list(FLAG_CHANGES))
def test_a_changed_setting_is_refused_before_anything_is_sent(srv, tmp_path, capsys, field):
    first, second, expected = FLAG_CHANGES[field]
    assert ask(srv, tmp_path, *first) == 0
    path = results(tmp_path, "RQ1")
    before, sent = path.read_bytes(), len(srv.requests)
    refused(capsys, ask(srv, tmp_path, *second, "--limit", "3"), expected)
    assert path.read_bytes() == before and len(srv.requests) == sent
    assert ask(srv, tmp_path, *second, "--limit", "3", "--run-name", "second") == 0  # the way out works
    assert len(rows_of(results(tmp_path / "runs" / "second", "RQ1"))) == 3 and path.read_bytes() == before


def test_a_changed_prompt_is_refused(srv, tmp_path, capsys):
    questions = tmp_path / "questions"
    questions.mkdir()
    text = (ROOT / "dataset" / "questions" / "WV7_English.jsonl").read_text(encoding="utf-8")
    (questions / "WV7_English.jsonl").write_text(text, encoding="utf-8")
    assert ask(srv, tmp_path, "--questions-dir", str(questions)) == 0
    path = results(tmp_path, "RQ1")
    before, sent = path.read_bytes(), len(srv.requests)
    lines = text.splitlines(keepends=True)
    q2 = json.loads(lines[1])
    q2["question"] = q2["question"].rstrip("?") + " today?"
    (questions / "WV7_English.jsonl").write_text(lines[0] + json.dumps(q2) + "\n" + "".join(lines[2:]), "utf-8")
    refused(capsys, ask(srv, tmp_path, "--questions-dir", str(questions)), f"prompt_sha256 of {q2['id']}:")
    assert path.read_bytes() == before and len(srv.requests) == sent


# fields that follow from the results folder: a file moved or copied into the wrong folder
FOLDER_FIELDS = {"experiment": "sensitivity", "model": "org/other", "steering_method": "persona",
                 "country": "Japan", "language": "Japanese", "variant": "order"}


@pytest.mark.parametrize("field", list(FOLDER_FIELDS))
def test_a_file_from_another_condition_is_refused(srv, tmp_path, capsys, field):
    assert ask(srv, tmp_path) == 0
    path = results(tmp_path, "RQ1")
    rows = rows_of(path)
    now = rows[0][field]
    for r in rows:
        r[field] = FOLDER_FIELDS[field]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    before, sent = path.read_bytes(), len(srv.requests)
    refused(capsys, ask(srv, tmp_path, "--limit", "3"),
            f"{field}: {FOLDER_FIELDS[field]} in the file, {now or '(empty)'} now")
    assert path.read_bytes() == before and len(srv.requests) == sent


def test_two_local_folders_of_the_same_name_are_two_models(srv, tmp_path):
    """`/a/llama3` and `/b/llama3` share the results folder `llama3` but not the identity."""
    (tmp_path / "a" / "llama3").mkdir(parents=True)
    (tmp_path / "b" / "llama3").mkdir(parents=True)
    root = tmp_path / "results"

    def run(model: Path) -> int:
        config = api_config(["--model_name_or_path", str(model), "--base_url", srv.plain.base_url,
                             "--results-root", str(root), "--limit", "1", "--quiet"], "RQ1")
        _, make = api_backend(config)
        return run_conditions(config, plan_for(config), str(model), make)

    assert run(tmp_path / "a" / "llama3") == 0
    with pytest.raises(UserError, match=r"model: .*/a/llama3 in the file, .*/b/llama3 now"):
        run(tmp_path / "b" / "llama3")


def test_a_file_of_the_previous_version_is_refused_whole(srv, tmp_path, capsys):
    path = results(tmp_path, "RQ1")
    path.parent.mkdir(parents=True)
    old = {c: "" for c in STORE_COLUMNS} | {"id": "Q1", "method": "logprob", "status": "ok",
                                            "choice_keys": "['1', '2', '3', '4']",
                                            "distribution": '{"1": 0.25, "2": 0.25, "3": 0.25, "4": 0.25}'}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, STORE_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerow(old)
    before = path.read_bytes()
    code = ask(srv, tmp_path, "--method", "logprob")
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "earlier version" in err and "--results-root" in err
    assert path.read_bytes() == before and srv.requests == []


def test_the_same_run_again_resumes(srv, tmp_path, capsys):
    assert ask(srv, tmp_path, "--limit", "1") == 0
    assert ask(srv, tmp_path, "--limit", "3") == 0
    rows = rows_of(results(tmp_path, "RQ1"))
    assert [r["id"] for r in rows] == ["Q1", "Q2", "Q3"] and len(srv.requests) == 3
