"""benchmarks/bench_local.py end to end on the tiny random model: the naive way and ours agree."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_local.py"


def test_bench_local_agrees_with_the_naive_way(tiny_model_dir, tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--model", str(tiny_model_dir), "--items", "4",
                           "--verbalized-items", "2"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "agree with the naive way to 0.0001: yes" in out
    assert "ours' texts are the start of the naive texts: yes" in out
    assert re.search(r"^ratio: [0-9.]+$", out.strip().splitlines()[-1])


def test_bench_local_with_a_model_shape(tmp_path):
    """`--shape`: a Llama of the given sizes with random weights and the bundled tokenizer (how
    the GPU figures in README were measured), here tiny, in bfloat16, on the CPU."""
    shape = tmp_path / "tiny.json"
    shape.write_text('{"_about": "test", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, '
                     '"num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": true}')
    proc = subprocess.run([sys.executable, str(BENCH), "--shape", str(shape), "--dtype", "bfloat16", "--only",
                           "logprob", "--items", "4", "--quick", "--tolerance", "2e-2"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("tiny shape, random weights (torch.bfloat16, ")
    assert "agree with the naive way to 0.02: yes" in proc.stdout
    assert re.search(r"^ratio: [0-9.]+$", proc.stdout.strip().splitlines()[-1])


def test_bench_local_sample_part(tiny_model_dir, tmp_path):
    """`--only sample`: both ways give every item its answers; the table and the ratio line."""
    proc = subprocess.run([sys.executable, str(BENCH), "--only", "sample", "--quick", "--model", str(tiny_model_dir),
                           "--sample-items", "2", "--samples", "4"], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "sample: 2 items x 4 answers at temperature 1, 1 repeat(s)" in out
    row = next(line for line in out.splitlines() if line.startswith("| 1 |"))
    assert row.count("/8 |") == 2  # naive and ours: 8 answers each (2 items x 4)
    assert re.search(r"^sample ratio \(median of 1\): [0-9.]+", out, re.M)
    assert re.search(r"^ratio: [0-9.]+$", out.strip().splitlines()[-1])
