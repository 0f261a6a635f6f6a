"""Made-up RQ2 answers, to draw the docs' RQ2 pictures (drawn before the release's own RQ2 answers
were at hand; docs/analysis.md runs the scripts on those too).

    python docs/make_rq2_demo.py --rq1 <paper-release>/results --human dataset/human/WV7_synthetic.csv --out /tmp/rq2demo
    python show_results/rq2_steering.py --human dataset/human/WV7_synthetic.csv --results-root /tmp/rq2demo --out /tmp/rq2fig

Each steered answer is the model's RQ1 answer moved a method-specific share of the way toward the
country's (synthetic) human distribution, plus noise: numbers for pictures, not findings.
"""
from __future__ import annotations

import argparse
import ast
import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.analysis.paper.answers import read_answer
from utils.analysis.paper.human import load_paper_human
from utils.core.paths import INPUTS_DIR
from utils.core.results.table import read_table

PULL = {"persona": 0.15, "language": -0.05, "language_persona": 0.1, "few-shot": 0.3, "language_few-shot": 0.2}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rq1", type=Path, required=True, help="results root with RQ1/<model>/results.csv")
    ap.add_argument("--human", type=Path, required=True, help="prepared Wave 7 long table (synthetic is fine)")
    ap.add_argument("--out", type=Path, required=True, help="results root to write")
    ap.add_argument("--models", default="gpt-4,meta-llama/Meta-Llama-3-70B-Instruct,Qwen/Qwen2.5-72B-Instruct")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    human = load_paper_human(a.human)
    countries = json.loads((INPUTS_DIR / "steering" / "countries.json").read_text(encoding="utf-8"))["countries"]
    for model in a.models.split(","):
        src = a.rq1 / "RQ1" / model / "results.csv"
        (a.out / "RQ1" / model).mkdir(parents=True, exist_ok=True)
        shutil.copy(src, a.out / "RQ1" / model / "results.csv")
        rows = read_table(src).rows
        for country, spec in countries.items():
            code = int(spec["wvs_code"])
            for method, pull in PULL.items():
                out = a.out / "RQ2" / method / country / model / "results.csv"
                out.parent.mkdir(parents=True, exist_ok=True)
                with out.open("w", newline="", encoding="utf-8") as fh:
                    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                    w.writeheader()
                    for r in rows:
                        keys = [str(k) for k in ast.literal_eval(r["choice_keys"])]
                        given = {str(k): v for k, v in read_answer(r["response"]).items()}
                        p = np.array([given.get(k, 0.0) for k in keys])
                        h = human.shares(human.item(code, r["id"]), keys) if r["type"] == "Opinion-Dependent" else None
                        if h is not None and p.sum() > 0:
                            p = np.clip(p / p.sum() + (pull + rng.normal(0, 0.05)) * (np.array(h) - p / p.sum()), 0, 1)
                            p = p / p.sum()
                        w.writerow(r | {"response": str({k: f"{100 * v:.1f}%" for k, v in zip(keys, p)})})
    print(f"wrote made-up RQ2 answers under {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
