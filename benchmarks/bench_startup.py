"""Start-up of the bundled model: a later start (reads the cached entry) today against the way
before, plus the first start (converts the GGUF file into the cache).

    python benchmarks/bench_startup.py              # 1 first start, 5 later starts each way, 0 without the cache
    python benchmarks/bench_startup.py --quick      # 1 first start, 2 later starts each way
    python benchmarks/bench_startup.py --warm 7 --floor --no-cache-runs 1

Every start is a fresh Python process, as a run of `code/RQ1/prob_by_llm.py` is, timed from
before its imports to the loaded model (`startup s`) and from after the script's own imports
(`load s`). The two ways of a later start alternate, so both see the same load on a shared
machine:

* now (`load_bundled_model`): the entry's checksums are read in a background thread while the
  main thread imports torch and transformers and loads the entry; the tied output layer is
  stored under `model.embed_tokens.weight`, so nothing is filled with random numbers first.
* before (`BEFORE`, kept here to measure against): `import torch` at the top (the cache module
  imported safetensors.torch), every checksum read before loading, then `load_model` on an
  entry written as it was (safetensors' `save_model`, which keeps the tied weight as
  `lm_head.weight`; transformers then fills the embeddings with random numbers and ties them).
  Both ways read the tokenizer from the entry's `tokenizer.json`.
* `--floor`: the imports alone (torch, transformers' Llama), which any start pays before it
  reads a byte of the model; what a later start spends above this is ours.

The cache lives in a temporary folder (`--cache-dir` to choose one), emptied before the first
start, so the user's own cache is neither used nor touched. Each start also writes the
next-token log-probabilities of one fixed prompt; every start must give exactly the numbers of
the converted model.

The CPU columns are the process's user+system seconds and the main thread's alone, up to the
loaded model: on a shared machine the wall time follows the load, the main thread's CPU time
much less, and on a quiet machine a start takes about that long (the checksum thread runs on
another core).

The last line is `ratio: X`: the median later start before against now, start-up seconds.
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
sys.path.insert(0, str(ROOT))  # `write_entry_as_before` uses utils.probing.backends.hf.model_cache
# Every start ends the same way: its CPU times, then one forward pass whose log-probabilities are
# saved (sys.argv[1]) so the ways can be checked to give the same model.
MEASURE = """
cpu = resource.getrusage(resource.RUSAGE_SELF)
main = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
import torch
text = tokenizer.apply_chat_template([{"role": "user", "content": "Answer 1, 2 or 10."}], tokenize=False,
                                     add_generation_prompt=True)
ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
with torch.inference_mode():
    torch.save(torch.log_softmax(model(ids).logits[0, -1], dim=-1), sys.argv[1])
print(json.dumps({"startup_s": t2 - t0, "load_s": t2 - t1, "cpu_s": cpu.ru_utime + cpu.ru_stime,
                  "main_cpu_s": main.ru_utime + main.ru_stime}))
"""
CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from utils.probing.backends.hf.bundled import load_bundled_model
t1 = time.perf_counter()
tokenizer, model = load_bundled_model(quiet=True)
t2 = time.perf_counter()
""" + MEASURE
# What any start pays before it reads a byte of the model: the imports of torch and transformers' Llama.
FLOOR = """
import json, resource, time
t0 = time.perf_counter()
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
import transformers.models.llama.modeling_llama
t2 = time.perf_counter()
cpu = resource.getrusage(resource.RUSAGE_SELF)
main = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
print(json.dumps({"startup_s": t2 - t0, "load_s": float("nan"), "cpu_s": cpu.ru_utime + cpu.ru_stime,
                  "main_cpu_s": main.ru_utime + main.ru_stime}))
"""
# A later start as it was before (see the docstring), on an entry written by `write_entry_as_before`.
BEFORE = """
import json, resource, sys, time
t0 = time.perf_counter()
import torch
from pathlib import Path
from utils.probing.backends.hf.bundled import BUNDLED_GGUF, bundled_model_dir
from utils.probing.backends.hf.loading import load_model
from utils.probing.backends.hf.model_cache import cache_root, entry_problem, gguf_sha256
t1 = time.perf_counter()
entry = Path(sys.argv[2])
problem = entry_problem(entry, gguf_sha256(bundled_model_dir() / BUNDLED_GGUF, cache_root()))
assert problem is None, problem
tokenizer, model = load_model(entry, dtype="float32", quiet=True)
t2 = time.perf_counter()
""" + MEASURE


def start(cache_dir: Path, out: Path, use_cache: bool = True, before: Path | None = None,
          floor: bool = False) -> dict:
    """One start in a fresh process; `before`: the old way, on that entry; `floor`: imports only."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_dir), "PYTHONPATH": str(ROOT)}
    env.pop("LLM_GLOBAL_OPINION_NO_CACHE", None)
    if not use_cache:
        env["LLM_GLOBAL_OPINION_NO_CACHE"] = "1"
    argv = [sys.executable, "-c", CHILD, str(out)] if before is None else \
        [sys.executable, "-c", BEFORE, str(out), str(before)]
    if floor:
        argv = [sys.executable, "-c", FLOOR]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"a start failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_entry_as_before(entry: Path, dest: Path) -> None:
    """A copy of `entry` with its weights written as the cache wrote them before
    (`safetensors.torch.save_model`: the tied weight kept as `lm_head.weight`), manifest updated."""
    import torch
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM

    from utils.probing.backends.hf.model_cache import MANIFEST, sha256_file

    shutil.copytree(entry, dest)
    model = AutoModelForCausalLM.from_pretrained(entry, dtype=torch.float32)
    save_model(model, str(dest / "model.safetensors"), metadata={"format": "pt"})
    manifest = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"]["model.safetensors"] = {"size": (dest / "model.safetensors").stat().st_size,
                                              "sha256": sha256_file(dest / "model.safetensors")}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def load_average() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--warm", type=int, default=5, help="later starts of each way, reported as their median (default 5)")
    p.add_argument("--no-cache-runs", type=int, default=0,
                   help="starts with the cache switched off (each converts, as every start did before the cache; "
                        "default 0)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="XDG_CACHE_HOME for the runs (default: a temporary folder)")
    p.add_argument("--quick", action="store_true", help="2 later starts of each way")
    p.add_argument("--floor", action="store_true",
                   help="also time the imports alone (torch, transformers' Llama), which every start pays")
    args = p.parse_args(argv)
    if args.quick:
        args.warm = 2
    import torch

    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    cache = args.cache_dir or tmp / "cache"
    shutil.rmtree(cache / "llm-global-opinion", ignore_errors=True)
    loads = [load_average()]
    try:
        cold = start(cache, tmp / "cold.pt")
        reference = torch.load(tmp / "cold.pt")
        entry = next((cache / "llm-global-opinion" / "converted").iterdir())
        size = sum(f.stat().st_size for f in entry.iterdir()) / 2**20
        old_entry = tmp / "before" / entry.name
        write_entry_as_before(entry, old_entry)
        warm, before, floor = [], [], []
        for i in range(max(1, args.warm)):  # alternating, so all share the machine's load
            before.append(start(cache, tmp / f"before{i}.pt", before=old_entry))
            warm.append(start(cache, tmp / f"warm{i}.pt"))
            if args.floor:
                floor.append(start(cache, tmp / "unused.pt", floor=True))
            loads.append(load_average())
        same = all(torch.equal(torch.load(tmp / f"{way}{i}.pt"), reference)
                   for way in ("warm", "before") for i in range(len(warm)))
        off = [start(tmp / "unused", tmp / f"off{i}.pt", use_cache=False) for i in range(args.no_cache_runs)]
        same = same and all(torch.equal(torch.load(tmp / f"off{i}.pt"), reference) for i in range(len(off)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def median(runs, key):
        return statistics.median(r[key] for r in runs)

    print(f"bundled SmolLM2-135M-Instruct; torch {torch.__version__}, {os.cpu_count()} CPUs; "
          f"cache entry {size:.0f} MiB; load average (1/5/15 min) at the start and after each pair: {'; '.join(loads)}")
    def row(label: str, runs: list[dict]) -> str:
        cells = [median(runs, key) for key in ("startup_s", "load_s", "cpu_s", "main_cpu_s")]
        return f"| {label} | {len(runs)} | " + " | ".join("-" if c != c else f"{c:.1f}" for c in cells) + " |"

    print("| start | runs | startup s (median) | load s (median) | CPU s, process (median) | "
          "CPU s, main thread (median) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(row("first (cache empty: hash, convert, write the entry)", [cold]))
    print(row("later, before (checksums, then load; tied weight as lm_head.weight)", before))
    print(row("later (read the cached entry, checksums verified)", warm))
    if floor:
        print(row("imports alone (torch, transformers' Llama and Auto classes)", floor))
    if off:
        print(row("cache switched off (convert every start)", off))
    print("later starts, each: " + ", ".join(f"{r['startup_s']:.1f}" for r in warm)
          + "; before, each: " + ", ".join(f"{r['startup_s']:.1f}" for r in before))
    print(f"first start against a later start: {cold['startup_s'] / median(warm, 'startup_s'):.1f}x")
    print(f"later starts give the converted model's log-probabilities exactly: {'yes' if same else 'NO'}")
    print(f"ratio: {median(before, 'startup_s') / median(warm, 'startup_s'):.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
