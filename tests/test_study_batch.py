"""A study whose API model says `batch = true` takes the scripts' `--batch` route: every job of the
model (here RQ1 and one RQ2 cell) goes into one provider batch per round, against the local
batch-capable server (tests/batch_server.py), and the results files are those of the same study
asked one request at a time."""
from __future__ import annotations

import json
from pathlib import Path

from openai_server import FakeOpenAIServer
from study_files import RQ1_AND_JAPAN, api_model, head

from utils.core.results.table import read_table
from utils.study.runner import run_study
from utils.study.study_file import load_study

TIMING = ("latency_s", "finished_at")  # the only columns a batch run writes otherwise
FILES = ("RQ1/model-a/results.csv", "RQ2/persona/Japan/model-a/results.csv")


def study(tmp_path: Path, base_url: str, options: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "study.toml"
    path.write_text(head(tmp_path, "batched") + api_model(base_url, more=f"concurrency = 1\n{options}")
                    + RQ1_AND_JAPAN + "[analysis]\nenabled = false\n", encoding="utf-8")
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
