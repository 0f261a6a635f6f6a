"""How much each difference between our protocol and the paper's release moves a model's answers.

    python benchmarks/protocol_effects.py --release-dir ../shared/reference/paper-release

The bundled model (SmolLM2-135M-Instruct) on the CPU, method `logprob`, the 144 RQ1 items, asked in
steps from our protocol to the release's, one difference at a time:

    ours                   our logprob prompt around our wording of each item
    + release wording      our prompt around the release's wording (question and option lines)
    + release system       the same, after the release's system message
    release messages       the release's whole message list (its instruction and format examples)

Each step is compared with the step before and with `ours`, per item, by the paper's metric between
two answers, 1 - W1/(N - 1) over the semantic order (`metrics.alignment`): the table gives the mean
and the largest change (1 - that score), and each step's mean normalized entropy. Everything is read
from the release checkout at run time. The release's decoding, re-asking and acceptance rule act on
written (`verbalized`) answers, which a one-pass log-probability reading has none of: they are listed,
not measured. Writes --out (default figures/protocol_effects.csv) and prints the table as Markdown.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.analysis import metrics  # noqa: E402
from utils.core.questionnaire import load_questionnaire, questionnaire_path  # noqa: E402
from utils.core.records import Message, ProbeRequest, SurveyItem  # noqa: E402
from utils.probing.prompts import load_prompt_set, render_messages  # noqa: E402
from utils.probing.release_protocol import load_release_protocol  # noqa: E402

NOT_MEASURED = ("decoding (temperature, token limit)", "re-asking (same prompt, same temperature)",
                "acceptance rule (sums within 50 points, unnormalized)")


def steps(release_dir: Path) -> dict[str, list[ProbeRequest]]:
    """The four request lists, item for item in our questionnaire's order."""
    ours = load_questionnaire(questionnaire_path("English"))
    protocol = load_release_protocol(release_dir, "local")
    theirs = {it.id: it for _, it in protocol.questionnaire("English")}
    release_messages = {r.item.id: r.messages for r in protocol.rq1().requests}
    if set(theirs) != {it.id for it in ours}:
        raise SystemExit("the release's English questionnaire holds other items than ours")
    ps = load_prompt_set("English")
    system = tuple(m for m in protocol.messages("") if m.role == "system")

    def reworded(it: SurveyItem) -> SurveyItem:
        other = theirs[it.id]
        if sorted(other.choice_keys) != sorted(it.choice_keys):
            raise SystemExit(f"{it.id}: the release's option codes differ from ours")
        return SurveyItem(it.id, other.question, other.choices, other.choice_keys, other.answer, it.type, it.scale,
                          it.order, "English")

    def ours_without_system(it: SurveyItem) -> tuple[Message, ...]:
        return tuple(m for m in render_messages(it, "logprob", ps) if m.role != "system")

    return {
        "ours": [ProbeRequest(it, render_messages(it, "logprob", ps), "logprob") for it in ours],
        "+ release wording": [ProbeRequest(reworded(it), render_messages(reworded(it), "logprob", ps), "logprob")
                              for it in ours],
        "+ release system": [ProbeRequest(reworded(it), system + ours_without_system(reworded(it)), "logprob")
                             for it in ours],
        "release messages": [ProbeRequest(reworded(it), release_messages[it.id], "logprob") for it in ours],
    }


def answers(prober, requests: list[ProbeRequest]) -> np.ndarray:
    """[items, K] distributions in each item's semantic order (NaN rows where none was read)."""
    prober.prepare(requests)
    k = max(len(r.item.order) for r in requests)
    out = np.full((len(requests), k), np.nan)
    for i, r in enumerate(requests):
        result = prober.probe(r)
        if result.distribution is not None:
            out[i] = 0.0
            out[i, :len(r.item.order)] = [result.distribution.get(c, 0.0) for c in r.item.order]
    return out


def markdown(df) -> str:
    """The table as Markdown, numbers to 4 decimals, empty cells blank."""
    def cell(v) -> str:
        if isinstance(v, float):
            return "" if np.isnan(v) else f"{v:.4f}"
        return "" if v is None else str(v)
    def shown(column: str, v) -> str:
        return str(int(v)) if column == "items" and isinstance(v, float) and not np.isnan(v) else cell(v)
    lines = ["| " + " | ".join(df.columns) + " |", "|" + " --- |" * len(df.columns)]
    return "\n".join(lines + ["| " + " | ".join(shown(c, v) for c, v in zip(df.columns, r)) + " |"
                               for r in df.itertuples(index=False)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--release-dir", type=Path, required=True, help="a checkout of the paper's release")
    ap.add_argument("--out", type=Path, default=Path("figures") / "protocol_effects.csv", help="CSV to write")
    ap.add_argument("--limit", type=int, default=None, help="only the first N items (a quick look)")
    args = ap.parse_args(argv)

    import pandas as pd

    from utils.probing.bundled_model import load_bundled_model
    from utils.probing.hf_prober import HFProber

    plan = steps(args.release_dir)
    if args.limit:
        plan = {k: v[:args.limit] for k, v in plan.items()}
    tokenizer, model = load_bundled_model(quiet=True)
    prober = HFProber(model, tokenizer, "logprob")
    n_options = np.array([len(r.item.order) for r in plan["ours"]])
    dists, seconds = {}, {}
    for name, requests in plan.items():
        start = time.monotonic()
        dists[name] = answers(prober, requests)
        seconds[name] = time.monotonic() - start
        print(f"{name}: {len(requests)} items in {seconds[name]:.1f} s", flush=True)
    names = list(plan)
    rows = []
    for i, name in enumerate(names):
        row = {"step": name, "items": int(np.isfinite(dists[name][:, 0]).sum()),
               "mean_entropy": metrics.mean_normalized_entropy(dists[name], n_options), "seconds": seconds[name]}
        for label, base in (("vs_previous", names[max(i - 1, 0)]), ("vs_ours", "ours")):
            change = 1 - metrics.alignment(dists[name], dists[base], n_options)
            row[f"mean_change_{label}"] = float(np.nanmean(change))
            row[f"max_change_{label}"] = float(np.nanmax(change))
        rows.append(row)
    rows += [{"step": f"{what}: not measured under logprob"} for what in NOT_MEASURED]
    df = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False, float_format="%.4f")
    print(markdown(df))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
