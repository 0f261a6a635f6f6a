"""What the paper's whole grid would cost by API: list prices against provider batch prices.

    python benchmarks/grid_cost.py            # configs/paper.toml: RQ1, the RQ2 grid, the variants
    python benchmarks/grid_cost.py --quick    # its first 4 items only

Nothing is sent and no key is read: the grid is the study runner's own dry run
(`utils/study/dry_run.py` over `plan.study_jobs`), so the prompts are rendered exactly as a run
renders them and counted at ~4 characters a token. Each API model with `price_prompt` /
`price_output` in the study file is priced twice, at its list prices (one request at a time) and
at batch prices (`batch = true` in its options, or `--batch`: half). The output cost is a bound
(every prompt writing `max_new_tokens`), re-asks of unreadable answers not counted. The last line
is `ratio: X`, the list-price total over the batch-price total.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from utils.study import dry_run  # noqa: E402
from utils.study.plan import study_jobs  # noqa: E402
from utils.study.study_file import load_study  # noqa: E402


def priced(table: list[dict]) -> dict[str, tuple[int, int, float, float]]:
    """model -> (prompts, prompt tokens, prompt cost, output cost bound), summed over its rows;
    models without prices left out."""
    out: dict[str, tuple[int, int, float, float]] = {}
    for r in table:
        if r["prompt_cost"] is None:
            continue
        n, t, c, o = out.get(r["model"], (0, 0, 0.0, 0.0))
        out[r["model"]] = (n + r["prompts"], t + r["prompt_tokens"], c + r["prompt_cost"], o + (r["output_cost_max"] or 0))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "paper.toml", help="the study file priced "
                    "(default configs/paper.toml)")
    ap.add_argument("--quick", action="store_true", help="the first 4 items of every condition only")
    args = ap.parse_args(argv)
    study = load_study(args.config)
    if args.quick:
        study = replace(study, probe=study.probe | {"limit": 4})
    jobs = study_jobs(study)
    sync, batch = priced(dry_run.rows(study, jobs, batch=False)), priced(dry_run.rows(study, jobs, batch=True))
    print(f"grid of {args.config.name}{' (--quick: 4 items)' if args.quick else ''}; nothing sent\n")
    print("| model | prompts | prompt tokens | list: prompts | list: output at most | list: total | "
          "batch: prompts | batch: output at most | batch: total |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    totals = [0, 0, 0.0, 0.0, 0.0, 0.0]
    for model, (n, tokens, cost, out) in sync.items():
        _, _, bcost, bout = batch[model]
        print(f"| {model} | {n:,} | {tokens:,} | ${cost:,.2f} | ${out:,.2f} | ${cost + out:,.2f} | ${bcost:,.2f} | "
              f"${bout:,.2f} | ${bcost + bout:,.2f} |")
        totals = [a + b for a, b in zip(totals, (n, tokens, cost, out, bcost, bout))]
    n, tokens, cost, out, bcost, bout = totals
    print(f"| total | {n:,} | {tokens:,} | ${cost:,.2f} | ${out:,.2f} | ${cost + out:,.2f} | ${bcost:,.2f} | "
          f"${bout:,.2f} | ${bcost + bout:,.2f} |")
    unpriced = [m.name for m in study.models if m.name not in sync]
    if unpriced:
        print(f"\nnot priced (no price_prompt in the study file: self-hosted): {', '.join(unpriced)}")
    print(f"\nlist-price total ${cost + out:,.2f} (prompts ${cost:,.2f}); batch-price total ${bcost + bout:,.2f} "
          f"(prompts ${bcost:,.2f}); tokens ~4 characters each")
    print(f"ratio: {(cost + out) / max(bcost + bout, 1e-12):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
