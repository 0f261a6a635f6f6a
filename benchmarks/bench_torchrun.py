"""Data-parallel local probing: `torchrun --nproc_per_node 2` against 1 process under the same
launcher, the bundled model on this machine's CPU, `logprob`.

    python benchmarks/bench_torchrun.py               # all RQ1 items, 1 round
    python benchmarks/bench_torchrun.py --quick       # 24 items
    python benchmarks/bench_torchrun.py --rounds 3    # the two ways alternate; medians

Each run is the real command, `python -m torch.distributed.run --standalone --nproc_per_node N
code/RQ1/prob_by_llm.py --results-root <fresh folder> --quiet`, timed from start to exit (every
process imports torch and loads the model: that is paid once, side by side) and by the probing
alone (`elapsed_s` of `run_meta.json`). With 1 process torch uses every core for its matrix
products; with 2, the launcher gives each process one thread (`OMP_NUM_THREADS=1`), so the two
ways use the same cores. Both must write the same rows: the same ids in the same order, the same
statuses, and shares equal to 1e-6 (a matrix product summed over 2 threads or 1 differs in the
last bits, about 1e-8; the same thread count gives the same floats bit for bit, which
`tests/test_torchrun.py` checks). The last line is `ratio: X`: 1 process's wall seconds over
2 processes', medians over the rounds.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LLM = ROOT / "code" / "RQ1" / "prob_by_llm.py"
MODEL = Path("RQ1") / "SmolLM2-135M-Instruct"
TOLERANCE = 1e-6


def launched(n: int, root: Path, limit: int | None) -> dict:
    """One run with `n` processes: its wall seconds, its probing seconds, its rows."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n), str(LLM),
           "--results-root", str(root), "--quiet", *(["--limit", str(limit)] if limit else [])]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    meta = json.loads((root / MODEL / "run_meta.json").read_text())
    with open(root / MODEL / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {"wall_s": wall, "probe_s": meta["elapsed_s"], "rows": rows}


def largest_difference(a: list[dict], b: list[dict]) -> float:
    """The largest difference of a share between two runs' rows, which must name the same ids in
    the same order with the same statuses."""
    if [(r["id"], r["status"]) for r in a] != [(r["id"], r["status"]) for r in b]:
        raise SystemExit("the two runs wrote different rows (ids, order or statuses)")
    diffs = [abs(x[k] - y[k]) for r, s in zip(a, b) if r["distribution"]
             for x, y in [(json.loads(r["distribution"]), json.loads(s["distribution"]))] for k in x]
    return max(diffs, default=0.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="24 items instead of all")
    p.add_argument("--limit", type=int, default=None, help="first N items (default: all; --quick: 24)")
    p.add_argument("--rounds", type=int, default=1, help="rounds of both ways, alternating (default 1)")
    args = p.parse_args(argv)
    limit = args.limit or (24 if args.quick else None)
    runs: dict[int, list[dict]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for n in (1, 2):
                runs[n].append(launched(n, Path(tmp) / f"n{n}-r{r}", limit))
    diff = max(largest_difference(runs[1][0]["rows"], run["rows"]) for run in runs[2])
    if diff > TOLERANCE:
        raise SystemExit(f"the shares differ by {diff:.2e}, more than {TOLERANCE}")

    def median(n: int, key: str) -> float:
        return statistics.median(run[key] for run in runs[n])

    items = len(runs[1][0]["rows"])
    print(f"| processes | items | wall s (median of {args.rounds}) | probing s | items/s (probing) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n in (1, 2):
        print(f"| {n} | {items} | {median(n, 'wall_s'):.1f} | {median(n, 'probe_s'):.1f} | "
              f"{items / median(n, 'probe_s'):.2f} |")
    print(f"\nsame rows: yes (ids, order, statuses; largest share difference {diff:.1e})")
    print(f"probing alone: {median(1, 'probe_s') / median(2, 'probe_s'):.2f}x")
    print(f"ratio: {median(1, 'wall_s') / median(2, 'wall_s'):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
