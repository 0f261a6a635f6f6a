"""Start-up of the bundled model: the first start (converts the GGUF file and keeps the result
in the cache) against later starts (read the cached safetensors).

    python benchmarks/bench_startup.py              # 1 cold start, 3 later starts, 1 start without the cache
    python benchmarks/bench_startup.py --warm 5 --no-cache-runs 0

Every start is a fresh Python process, as a run of `code/RQ1/prob_by_llm.py` is, timed from
before its imports to the loaded model (`startup s`) and for loading alone (`load s`). The
cache lives in a temporary folder (`--cache-dir` to choose one), emptied before the cold
start, so the user's own cache is neither used nor touched. Each start also writes the
next-token log-probabilities of one fixed prompt; the cached starts must give exactly the
numbers of the converted model.

The last line is `ratio: X`: the cold start against the median later start, start-up seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys, time
t0 = time.perf_counter()
import torch
from utils.probing.bundled_model import load_bundled_model
t1 = time.perf_counter()
tokenizer, model = load_bundled_model(quiet=True)
t2 = time.perf_counter()
text = tokenizer.apply_chat_template([{"role": "user", "content": "Answer 1, 2 or 10."}], tokenize=False,
                                     add_generation_prompt=True)
ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
with torch.inference_mode():
    torch.save(torch.log_softmax(model(ids).logits[0, -1], dim=-1), sys.argv[1])
print(json.dumps({"startup_s": t2 - t0, "load_s": t2 - t1}))
"""


def start(cache_dir: Path, out: Path, use_cache: bool = True) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_dir), "PYTHONPATH": str(ROOT)}
    env.pop("LLM_GLOBAL_OPINION_NO_CACHE", None)
    if not use_cache:
        env["LLM_GLOBAL_OPINION_NO_CACHE"] = "1"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(out)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"a start failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--warm", type=int, default=3, help="later starts, reported as their median (default 3)")
    p.add_argument("--no-cache-runs", type=int, default=1,
                   help="starts with the cache switched off (each converts, as every start did before; default 1)")
    p.add_argument("--cache-dir", type=Path, default=None, help="XDG_CACHE_HOME for the runs (default: a temporary folder)")
    args = p.parse_args(argv)
    import torch

    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    cache = args.cache_dir or tmp / "cache"
    shutil.rmtree(cache / "llm-global-opinion", ignore_errors=True)
    try:
        cold = start(cache, tmp / "cold.pt")
        reference = torch.load(tmp / "cold.pt")
        args.warm = max(1, args.warm)
        warm = [start(cache, tmp / f"warm{i}.pt") for i in range(args.warm)]
        same = all(torch.equal(torch.load(tmp / f"warm{i}.pt"), reference) for i in range(args.warm))
        off = [start(tmp / "unused", tmp / f"off{i}.pt", use_cache=False) for i in range(args.no_cache_runs)]
        same = same and all(torch.equal(torch.load(tmp / f"off{i}.pt"), reference) for i in range(len(off)))
        entry = next((cache / "llm-global-opinion" / "converted").iterdir())
        size = sum(f.stat().st_size for f in entry.iterdir()) / 2**20
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def median(runs, key):
        return statistics.median(r[key] for r in runs)

    print(f"bundled SmolLM2-135M-Instruct; torch {torch.__version__}, {os.cpu_count()} CPUs; cache entry {size:.0f} MiB")
    print("| start | runs | startup s (median) | load s (median) |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| first (cache empty: hash, convert, write the entry) | 1 | {cold['startup_s']:.1f} | {cold['load_s']:.1f} |")
    print(f"| later (read the cached entry, checksums verified) | {len(warm)} | {median(warm, 'startup_s'):.1f} | "
          f"{median(warm, 'load_s'):.1f} |")
    if off:
        print(f"| cache switched off (convert every start) | {len(off)} | {median(off, 'startup_s'):.1f} | "
              f"{median(off, 'load_s'):.1f} |")
    print(f"later starts give the converted model's log-probabilities exactly: {'yes' if same else 'NO'}")
    print(f"ratio: {cold['startup_s'] / median(warm, 'startup_s'):.1f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
