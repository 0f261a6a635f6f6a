"""`run_study.py --dry-run`: what the study would send, per model and experiment, and what it
might cost. Nothing is loaded or sent; prompts are rendered as a run renders them, tokens estimated
at ~4 characters each (a floor for Chinese or Japanese).

    model            method      experiment   prompts  prompt tokens  prompt cost  output cost at most
    gpt-4            verbalized  RQ1              144        141,120        $4.23               $4.42
"""
from __future__ import annotations

from collections import defaultdict

from utils.study.study_file import Study
from utils.study.plan import Estimate, Job, estimate


BATCH_PRICE_SHARE = 0.5  # what providers' batch jobs cost against their list prices (OpenAI, 2024-)


def _money(x: float | None) -> str:
    return "" if x is None else f"${x:,.2f}"


def rows(study: Study, jobs: dict[str, list[Job]], batch: bool | None = None) -> list[dict]:
    """One row per (model, method, experiment), costs where priced. `batch` True or False prices every
    model at batch or list prices, to compare them; None follows each model's `batch`."""
    by_model = {m.name: m for m in study.models}
    out = []
    for name, model_jobs in jobs.items():
        model = by_model[name]
        batched = any(j.config.backend.kind == "api" and j.config.backend.batch for j in model_jobs)
        share = BATCH_PRICE_SHARE if (batched if batch is None else batch) else 1.0
        sums: dict[tuple[str, str], Estimate] = defaultdict(lambda: Estimate(0, 0, 0))
        for job in model_jobs:
            key = (job.method, job.experiment)
            sums[key] = Estimate(*map(sum, zip(sums[key], estimate(job))))
        for (method, experiment), e in sums.items():
            out.append({
                "model": name, "method": method, "experiment": experiment, "prompts": e.prompts,
                "prompt_tokens": e.prompt_tokens,
                "prompt_cost": (None if model.price_prompt is None
                                else share * e.prompt_tokens * model.price_prompt / 1e6),
                "output_cost_max": (None if model.price_output is None
                                    else share * e.max_output_tokens * model.price_output / 1e6),
            })
    return out


def render(study: Study, table: list[dict]) -> str:
    head = ["model", "method", "experiment", "prompts", "prompt tokens", "prompt cost", "output cost at most"]
    body = [[r["model"], r["method"], r["experiment"], f"{r['prompts']:,}", f"{r['prompt_tokens']:,}",
             _money(r["prompt_cost"]), _money(r["output_cost_max"])] for r in table]
    total_cost = [r["prompt_cost"] for r in table if r["prompt_cost"] is not None]
    total_out = [r["output_cost_max"] for r in table if r["output_cost_max"] is not None]
    body.append(["total", "", "", f"{sum(r['prompts'] for r in table):,}",
                 f"{sum(r['prompt_tokens'] for r in table):,}",
                 _money(sum(total_cost)) if total_cost else "", _money(sum(total_out)) if total_out else ""])
    widths = [max(len(str(row[i])) for row in [head] + body) for i in range(len(head))]
    right = {3, 4, 5, 6}

    def line(cells) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    lines = [f"study {study.name!r} ({study.path}): dry run, nothing loaded or sent", line(head)]
    lines += [line(r) for r in body]
    lines.append("tokens: ~4 characters a token (a floor for non-Latin scripts); output cost bound: every "
                 "prompt writing max_new_tokens, re-asks of unparsed answers not counted")
    return "\n".join(lines)
