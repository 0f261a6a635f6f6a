"""Analysis speed: our RQ1 country-level computation against the original release's approach.

    python benchmarks/bench_analysis.py            # 97,020 respondents, 66 countries, 144 items, 7 models
    python benchmarks/bench_analysis.py --quick    # 2 models for the original way (ours still does 7)

Ours: read only the needed columns, count every (country, item, answer) in one `np.bincount`
pass, write and reload the long table, then score all models against all countries as array
operations. The original way: for each model, country and item, a pandas boolean filter of the
microdata, `value_counts`, and `scipy.stats.wasserstein_distance`. Both run here, in this process,
on the same generated WVS-shaped file; the per-country mean scores must agree to 1e-9. The last
line is `ratio: X` (original seconds per model / ours seconds per model).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.analysis import metrics  # noqa: E402
from utils.core.human.human_data import load_human  # noqa: E402
from utils.core.human.microdata import prepare_long_table, read_microdata, write_long_table  # noqa: E402
from utils.analysis.scoring import Scoring  # noqa: E402
from utils.core.human.synthetic_wvs import synthetic_microdata  # noqa: E402
from utils.core.human.wave_map import ItemSpec, country_names  # noqa: E402
from utils.core.questionnaire import load_questionnaire, questionnaire_path  # noqa: E402

# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent through fork and
# exec, so a child started by this (large) process would report the parent's peak.
PEAK_SCRIPT = """
import os, re, resource, sys
sys.path.insert(0, {root!r})
from utils.core.human.microdata import read_microdata
df = read_microdata({path!r}, {columns!r})
status = open("/proc/self/status").read() if os.path.exists("/proc/self/status") else ""
hwm = re.search(r"VmHWM:\\s+(\\d+) kB", status)
print(int(hwm.group(1)) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(df))
"""


def ours(path: Path, specs: list[ItemSpec], answers: list[np.ndarray], work: Path) -> np.ndarray:
    """[models, countries] mean alignment, the way the toolkit computes it."""
    df = read_microdata(path, ["B_COUNTRY"] + [s.variable for s in specs])
    table = prepare_long_table(df, 7, specs, "B_COUNTRY", None)
    write_long_table(table, work / "WV7.csv", {"wave": 7})
    human = load_human(work / "WV7.csv", [s.id for s in specs], [s.order for s in specs])
    sc = Scoring.build(human)
    return np.stack([metrics.summarize(sc.scores(a))[0] for a in answers])


def original(path: Path, specs: list[ItemSpec], answers: list[np.ndarray]) -> np.ndarray:
    """Per model, per country, per item: filter, count, scipy W1 (the original release's loop)."""
    df = pd.read_csv(path)
    codes = sorted(df["B_COUNTRY"].unique())
    out = np.full((len(answers), len(codes)), np.nan)
    for m, ans in enumerate(answers):
        for c, code in enumerate(codes):
            scores = []
            for i, spec in enumerate(specs):
                counts = df[df["B_COUNTRY"] == code][spec.variable].value_counts()
                human = np.array([counts.get(int(o), 0) for o in spec.order], dtype=float)
                if human.sum() == 0:
                    continue
                n = len(spec.order)
                model = ans[i, :n]
                w1 = wasserstein_distance(np.arange(n), np.arange(n), model, human)
                scores.append(1 - w1 / (n - 1))
            out[m, c] = np.mean(scores)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--respondents-per-country", type=int, default=1470, help="default 1470 (x 66 = 97,020)")
    ap.add_argument("--countries", type=int, default=None, help="use only the first N countries (default all 66)")
    ap.add_argument("--models", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="time the original way on 2 models only")
    args = ap.parse_args(argv)
    items = load_questionnaire(questionnaire_path())
    specs = [ItemSpec(it.id, it.id, it.order) for it in items]
    codes = sorted(country_names())[:args.countries]
    rng = np.random.default_rng(0)
    k = max(len(s.order) for s in specs)
    answers = []
    for _ in range(args.models):
        a = np.zeros((len(specs), k))
        for i, s in enumerate(specs):
            a[i, :len(s.order)] = rng.dirichlet(np.ones(len(s.order)))
        answers.append(a)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "WVS_Cross-National_Wave_7_synthetic.csv"
        t = time.perf_counter()
        df = synthetic_microdata(7, specs, codes, n_per_country=args.respondents_per_country, seed=1)
        df.to_csv(path, index=False)
        n_resp, size_mb = len(df), path.stat().st_size / 2**20
        del df
        print(f"generated {n_resp} respondents x {len(specs)} items, {len(codes)} countries, "
              f"{size_mb:.0f} MiB CSV in {time.perf_counter() - t:.1f}s")
        peak = subprocess.run([sys.executable, "-c", PEAK_SCRIPT.format(
            root=str(Path(__file__).resolve().parents[1]), path=str(path),
            columns=["B_COUNTRY"] + [s.variable for s in specs])], capture_output=True, text=True, check=True)
        peak_mb, rows = peak.stdout.split()
        t = time.perf_counter()
        fast = ours(path, specs, answers, work)
        t_ours = time.perf_counter() - t
        n_orig = 2 if args.quick else args.models
        t = time.perf_counter()
        slow = original(path, specs, answers[:n_orig])
        t_orig = time.perf_counter() - t
    diff = float(np.nanmax(np.abs(fast[:n_orig] - slow)))
    per_ours, per_orig = t_ours / args.models, t_orig / n_orig
    print(f"{'way':<34}{'models':>7}{'seconds':>10}{'s/model':>10}")
    print(f"{'ours (read+count+table+score)':<34}{args.models:>7}{t_ours:>10.2f}{per_ours:>10.3f}")
    print(f"{'original (filter per country+item)':<34}{n_orig:>7}{t_orig:>10.2f}{per_orig:>10.3f}")
    print(f"peak memory reading the file (columns needed only): {float(peak_mb):.0f} MiB for {rows} rows")
    print(f"max |score difference| over {n_orig} models x {fast.shape[1]} countries: {diff:.2e}")
    assert diff < 1e-9, "scores differ between the two ways"
    print(f"ratio: {per_orig / per_ours:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
