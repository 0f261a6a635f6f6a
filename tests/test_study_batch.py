"""A study whose API model says `batch = true` takes the scripts' `--batch` route: every job of the
model (here RQ1 and one RQ2 cell) goes into one provider batch per round, against the local
batch-capable server (tests/batch_server.py), and the results files are those of the same study
asked one request at a time."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

from openai_server import FakeOpenAIServer

from utils.core.results.table import read_table
from utils.study.runner import run_study
from utils.study.study_file import load_study

TIMING = ("latency_s", "finished_at")  # the only columns a batch run writes otherwise
FILES = ("RQ1/model-a/results.csv", "RQ2/persona/Japan/model-a/results.csv")


def study(tmp_path: Path, base_url: str, options: str) -> Path:
    text = f"""
    [study]
    name = "batched"

    [output]
    results_root = "{tmp_path}/results"
    figures = "{tmp_path}/figures"
    report = "{tmp_path}/report.html"
    human_dir = "{tmp_path}/human"

    [probe]
    methods = ["verbalized"]
    limit = 4
    quiet = true

    [[models]]
    name = "model-a"
    backend = "api"
    model_name_or_path = "model-a"
    base_url = "{base_url}"
    concurrency = 1
    {options}

    [experiments.RQ1]

    [experiments.RQ2]
    countries = ["Japan"]
    steering_methods = ["persona"]

    [human]
    synthetic = true
    respondents = 60

    [analysis]
    enabled = false
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def rows(root: Path) -> dict[str, list[dict]]:
    return {f: [{k: v for k, v in r.items() if k not in TIMING} for r in read_table(root / "verbalized" / f).rows]
            for f in FILES}


def test_a_batch_study_writes_the_synchronous_studys_files_one_batch_per_round(tmp_path):
    unreadable = ("content", "I cannot say.")  # the first answer (RQ1's Q1) is asked again, at attempt 2
    with FakeOpenAIServer() as srv:
        srv.script.append(unreadable)
        assert run_study(load_study(study(tmp_path / "sync", srv.base_url, "")), log=lambda *_: None) == 0
        assert srv.batch_store.created == []
    sync = rows(tmp_path / "sync/results")

    lines: list[str] = []
    with FakeOpenAIServer() as srv:
        srv.script.append(unreadable)  # round 1's first line: Q1 goes into round 2
        config = study(tmp_path / "batch", srv.base_url, "options = {batch = true, batch_poll = 0}")
        assert run_study(load_study(config), log=lines.append) == 0
        assert srv.batch_store.created == ["batch_1", "batch_2"]  # both jobs in each round's one batch
        first = [json.loads(x)["custom_id"] for x in srv.batch_store.files["file-1"].decode().splitlines()]
        assert len(first) == 8 and {c.split("|")[0] for c in first} == {"RQ1/model-a", "RQ2/persona/Japan/model-a"}
        second = [json.loads(x)["custom_id"] for x in srv.batch_store.files["file-4"].decode().splitlines()]
        assert second == ["RQ1/model-a|Q1|2"]
        assert "[model-a] verbalized: 2 job(s) as one batch per round (verbalized RQ1, verbalized RQ2 persona/Japan)" in lines
        assert rows(tmp_path / "batch/results") == sync

        assert run_study(load_study(config), log=lines.append) == 0  # done: nothing sent again
        assert srv.batch_store.created == ["batch_1", "batch_2"]
