"""Data-parallel local probing under PyTorch's launcher: `torchrun --nproc_per_node 2` on the CPU
(gloo) with the bundled model writes the results file one process writes.

    one process    python code/RQ1/prob_by_llm.py --limit 6              -> RQ1/<model>/results.csv
    two processes  torchrun --nproc_per_node 2 ... --limit 6             -> the same rows, the same values

Only the wall-clock columns may differ. Rank 0 alone opens the file and writes; an item answered
by two ranks is refused before it is written (`loop.merged`), and a rank that would open the file
while another process holds it is refused by the store's lock, on every rank at once.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from utils.core.results.table import read_complete
from utils.probing.loop import merged
from utils.probing.ranks import Ranks
from utils.probing.results_store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
LLM = ROOT / "code" / "RQ1" / "prob_by_llm.py"
VOLATILE = ("latency_s", "finished_at")  # wall-clock columns
MODEL = Path("RQ1") / "SmolLM2-135M-Instruct"
ASKED = ("--limit", "6", "--batch-size", "2")  # 3 batches: rank 0 asks one, rank 1 two


def one(root: Path, *extra: str) -> subprocess.CompletedProcess:
    """One process on one CPU thread, as torchrun starts each of its processes (OMP_NUM_THREADS=1):
    the float sums of a matrix product split over 2 threads differ in the last bits (1.8e-8 in a
    share, measured), whichever way the items are split."""
    return subprocess.run([sys.executable, str(LLM), "--results-root", str(root), "--quiet", *extra],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})


def two(root: Path, *extra: str) -> subprocess.CompletedProcess:
    """`torchrun --standalone` (a free port, so runs beside each other do not meet) with 2 processes."""
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(LLM), "--results-root", str(root), "--quiet", *extra],
                          capture_output=True, text=True, timeout=600)


def rows(root: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in read_complete(root / MODEL / "results.csv").rows]


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    root = tmp_path_factory.mktemp("alone")
    proc = one(root, *ASKED)
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.mark.slow
def test_two_processes_write_what_one_writes(alone, tmp_path):
    proc = two(tmp_path, *ASKED)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("6 items: 0 already done, 6 ok") == 1  # rank 0 alone reports
    assert rows(tmp_path) == rows(alone)  # the same ids in the same order, the same logprob floats
    meta = json.loads((tmp_path / MODEL / "run_meta.json").read_text())
    assert meta["summary"] == {"total": 6, "skipped": 0, "ok": 6, "unparsed": 0, "errors": 0}  # each item once
    with open(tmp_path / MODEL / "results.csv", newline="") as fh:
        ids = [r["id"] for r in csv.DictReader(fh)]
    assert ids == [r["id"] for r in rows(alone)] and len(set(ids)) == 6  # each id once in the file itself
    assert sorted(p.parent.name for p in tmp_path.rglob("*.csv")) == ["SmolLM2-135M-Instruct"]


@pytest.mark.slow
def test_resume_after_a_partial_file(tmp_path):
    """Two items done: one process and two resume the same file alike (the items left, batched
    and cached as one process does) and keep the finished rows."""
    assert one(tmp_path / "part", "--limit", "2").returncode == 0
    for name in ("alone", "two"):
        shutil.copytree(tmp_path / "part", tmp_path / name)
    before = read_complete(tmp_path / "part" / MODEL / "results.csv").rows
    assert one(tmp_path / "alone", *ASKED).returncode == 0
    proc = two(tmp_path / "two", *ASKED)
    assert proc.returncode == 0, proc.stderr
    assert "6 items: 2 already done, 4 ok" in proc.stdout
    assert rows(tmp_path / "two") == rows(tmp_path / "alone") and len(rows(tmp_path / "two")) == 6
    assert read_complete(tmp_path / "two" / MODEL / "results.csv").rows[:2] == before  # kept, not asked again
    again = two(tmp_path / "two", *ASKED)
    assert again.returncode == 0 and "no model was loaded" in again.stdout


@pytest.mark.slow
def test_sampled_answers_do_not_depend_on_the_rank(tmp_path):
    """`sample` draws each ask of a batch from its own seed (`loop.batch_seed`), so rank 1's batch
    draws what it draws in one process, where a batch before it has drawn first."""
    asked = ("--method", "sample", "--samples", "3", "--max-new-tokens", "8", "--limit", "4", "--batch-size", "2")
    alone = one(tmp_path / "alone", *asked)
    proc = two(tmp_path / "two", *asked)
    assert alone.returncode == proc.returncode in (0, 1), proc.stderr  # 1: an item left unparsed, in both
    assert rows(tmp_path / "two") == rows(tmp_path / "alone")  # the answers themselves (raw_text), not only counts


@pytest.mark.slow
def test_a_second_writer_is_refused_on_every_rank(tmp_path):
    """Another process holds the file: rank 0's store refuses it, and rank 1 stops with it
    instead of waiting for rank 0 forever."""
    with ResultStore(tmp_path / MODEL / "results.csv"):
        proc = two(tmp_path, "--limit", "2")
    assert proc.returncode != 0
    assert proc.stderr.count("another run is writing") == 1
    assert not (tmp_path / MODEL / "results.csv").exists()


def test_the_ranks_split_batches_whole_and_once():
    batches = [[0, 1], [2, 3], [4, 5], [6]]
    parts = [Ranks(r, 3).part(batches) for r in range(3)]
    assert [b for p in parts for b in p] == batches  # every batch once, contiguous, in order
    assert Ranks(0, 3).steps(len(batches)) == max(map(len, parts)) == 2
    assert Ranks.from_environ({}) == Ranks() and Ranks.from_environ({"WORLD_SIZE": "2", "RANK": "1"}).local_rank == 1


def test_an_item_answered_by_two_ranks_is_refused():
    pending, seen = {"Q1": None, "Q2": None}, set()
    assert [i for i, _ in merged([[("Q1", "a")], [("Q2", "b")]], pending, seen)] == ["Q1", "Q2"]
    with pytest.raises(RuntimeError, match="two ranks"):
        merged([[("Q1", "a")], [("Q1", "a")]], pending, set())
    with pytest.raises(RuntimeError, match="two ranks"):
        merged([[("Q2", "b")]], pending, seen)  # already written in an earlier round
