"""How much each difference between our protocol and the paper's release moves a model's answers.

    python benchmarks/protocol_effects.py --release-dir <paper-release>
    python benchmarks/protocol_effects.py --release-dir ... --human dataset/human/WV7.csv   # + scores

The bundled model (SmolLM2-135M-Instruct) on the CPU, the 144 RQ1 items, read by `logprob` (one
pass, next-token probabilities over the option codes) and by `sample` (--samples answers each at
temperature 1), asked in steps from our protocol to the release's, one difference at a time:

    ours                     our prompt around our wording of each item
    + release wording        our prompt around the release's wording (question and option lines)
    + release system         the same, after the release's system message
    + release instruction    the release's instruction in place of ours (no examples yet)
    + release examples       its format examples (real WVS items, made-up numbers) after it
    + release question       its question layout and lead-in in place of our question block
    + `Answer:` ending       its ending: this step is the release's whole message list, checked
                             item by item against what its own prompt function builds

The release's user message is cut into these pieces at run time from its own text (the examples
file its prompt function reads, the item's question and option lines from its questionnaire), so
nothing of its text is stored here. Each step is compared with the step before and with `ours`, per
item, by the paper's metric between two answers, 1 - W1/(N - 1) over the semantic order: the table
gives the mean and the largest change (1 - that score) and each step's mean normalized entropy.
`sample` draws are random, so its table starts with `ours` drawn again with another seed: the
change a step must exceed to be more than sampling noise.

With --human (a table prepared by dataset/prepare_wvs.py) each step's answers are also scored
against every country's people: the RQ1 mean score over countries and Kendall's tau between the
step's ranking of countries and ours.

Not measurable with a model that reads no written answer, and listed as such: decoding and
re-asking (the release re-asks the same prompt at the same temperature until its rule accepts).
The acceptance rules are compared on the release's own stored RQ1 replies. Writes --out (default
figures/protocol_effects.csv) and prints the table as Markdown.
"""
from __future__ import annotations

import argparse
import ast
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.analysis import metrics  # noqa: E402
from utils.core.questionnaire import load_questionnaire, questionnaire_path  # noqa: E402
from utils.core.records import Message, ProbeRequest, SurveyItem  # noqa: E402
from utils.probing.prompts import load_prompt_set, render_messages  # noqa: E402
from utils.probing.release.protocol import ReleaseProtocol, load_release_protocol  # noqa: E402

NOT_MEASURED = ("decoding (temperature, token limit): the bundled model's answers are read, not written",
                "re-asking (same prompt, same temperature): nothing to re-ask when no answer is written")
STEPS = ("ours", "+ release wording", "+ release system", "+ release instruction", "+ release examples",
         "+ release question", "+ `Answer:` ending")


@dataclass(frozen=True)
class ReleaseParts:
    """The release's user message for one item, cut where one difference ends and the next begins:
    `instruction + examples + lead + question + between + options + ending` is the whole text."""

    instruction: str
    examples: str
    lead: str
    question: str
    between: str
    options: str
    ending: str

    def text(self) -> str:
        return (self.instruction + self.examples + self.lead + self.question + self.between + self.options
                + self.ending)


def release_parts(protocol: ReleaseProtocol) -> dict[str, ReleaseParts]:
    """Each RQ1 item's release message in pieces, found from the release's own inputs: the file
    its prompt function reads (the format examples) and the item's question and option text."""
    out = {}
    with protocol.checkout.reading() as common:
        inner = common.read_file_to_string
        read: list[str] = []
        common.read_file_to_string = lambda name: read.append(inner(name)) or read[-1]
        try:
            for row, item in protocol.questionnaire("English"):
                read.clear()
                text = common.get_prompt_of_rq1(row)
                if len(read) != 1:
                    raise SystemExit(f"{item.id}: the release's RQ1 prompt read {len(read)} files, not one")
                examples = read[0]
                e = text.index(examples)
                q = text.index(row["question"], e + len(examples))
                a = text.index(row["answer"], q + len(row["question"]))
                parts = ReleaseParts(text[:e], examples, text[e + len(examples):q], row["question"],
                                     text[q + len(row["question"]):a], row["answer"], text[a + len(row["answer"]):])
                if parts.text() != text:
                    raise SystemExit(f"{item.id}: the release's message does not split into its pieces")
                out[item.id] = parts
        finally:
            common.read_file_to_string = inner
    return out


def steps(release_dir: Path, method: str = "logprob") -> dict[str, list[ProbeRequest]]:
    """The request list of every step, item for item in our questionnaire's order."""
    ours = load_questionnaire(questionnaire_path("English"))
    protocol = load_release_protocol(release_dir, "local")
    theirs = {it.id: it for _, it in protocol.questionnaire("English")}
    release_messages = {r.item.id: r.messages for r in protocol.rq1().requests}
    parts = release_parts(protocol)
    if set(theirs) != {it.id for it in ours}:
        raise SystemExit("the release's English questionnaire holds other items than ours")
    ps = load_prompt_set("English")
    system = tuple(m for m in protocol.messages("") if m.role == "system")
    from utils.probing.prompts import WORDING
    template = ps.templates[WORDING.get(method, method)]
    if not template.endswith("$examples_block$question_block"):
        raise SystemExit("our template does not end in $examples_block$question_block")
    our_separator = "\n\n"  # between our instruction and what follows it, as our template has it

    def reworded(it: SurveyItem) -> SurveyItem:
        other = theirs[it.id]
        if sorted(other.choice_keys) != sorted(it.choice_keys):
            raise SystemExit(f"{it.id}: the release's option codes differ from ours")
        return SurveyItem(it.id, other.question, other.choices, other.choice_keys, other.answer, it.type, it.scale,
                          it.order, "English")

    def ours_user(it: SurveyItem) -> str:
        return next(m.content for m in render_messages(it, method, ps) if m.role == "user")

    def our_block(it: SurveyItem) -> str:
        """Our question block around `it` (what our template puts after the instruction)."""
        user = ours_user(it)
        instruction = template[:-len("$examples_block$question_block")]
        if not user.startswith(instruction):
            raise SystemExit(f"{it.id}: our prompt does not start with our instruction")
        return user[len(instruction):]

    def chat(it: SurveyItem, user: str) -> tuple[Message, ...]:
        return system + (Message("user", user),)

    def request(it: SurveyItem, messages: tuple[Message, ...]) -> ProbeRequest:
        return ProbeRequest(it, messages, method)

    plan = {STEPS[0]: [request(it, render_messages(it, method, ps)) for it in ours]}
    words = [reworded(it) for it in ours]
    plan[STEPS[1]] = [request(it, render_messages(it, method, ps)) for it in words]
    plan[STEPS[2]] = [request(it, chat(it, ours_user(it))) for it in words]
    p = {it.id: parts[it.id] for it in words}
    plan[STEPS[3]] = [request(it, chat(it, p[it.id].instruction.rstrip() + our_separator
                                       + our_block(it).lstrip())) for it in words]
    plan[STEPS[4]] = [request(it, chat(it, p[it.id].instruction + p[it.id].examples.rstrip() + our_separator
                                       + our_block(it).lstrip())) for it in words]
    plan[STEPS[5]] = [request(it, chat(it, p[it.id].text()[:-len(p[it.id].ending)] if p[it.id].ending
                                       else p[it.id].text())) for it in words]
    plan[STEPS[6]] = [request(it, chat(it, p[it.id].text())) for it in words]
    for r in plan[STEPS[6]]:
        if r.messages != release_messages[r.item.id]:
            raise SystemExit(f"{r.item.id}: the last step is not the release's own message list")
    return plan


def answers(backend, method, requests: list[ProbeRequest]) -> np.ndarray:
    """[items, K] distributions in each item's semantic order (NaN rows where none was read)."""
    from utils.probing.loop import ask

    backend.prepare(requests)
    got = dict(ask(backend, method, requests))
    k = max(len(r.item.order) for r in requests)
    out = np.full((len(requests), k), np.nan)
    for i, r in enumerate(requests):
        result = got[r]
        if result.distribution is not None:
            out[i] = 0.0
            out[i, :len(r.item.order)] = [result.distribution.get(c, 0.0) for c in r.item.order]
    return out


def country_scores(dist: np.ndarray, shares: np.ndarray, n_options: np.ndarray) -> np.ndarray:
    """[C] each country's mean item score for answers `dist` [I, K] against `shares` [C, I, K]."""
    with metrics.quiet_nan_warnings():
        return np.nanmean(metrics.alignment(dist[None], shares, n_options[None]), axis=1)


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import kendalltau
    ok = np.isfinite(a) & np.isfinite(b)
    return float(kendalltau(a[ok], b[ok]).statistic)


def acceptance_rows(release_dir: Path) -> list[dict]:
    """Both acceptance rules on the release's own stored RQ1 replies: how many each accepts, the
    range of their sums, and how far our reading of an accepted reply is from the release's."""
    from utils.core.parsing import parse_distribution
    from utils.core.results.table import read_table
    from utils.probing.release.accept import accepted_shares, release_matcher
    from utils.probing.release.loader import open_release

    files = sorted((release_dir / "results" / "RQ1").rglob("results.csv"))
    accept = release_matcher(open_release(release_dir), "api")  # the stored responses are after the marker
    n = ours_ok = theirs_ok = 0
    sums, moved = [], []
    for path in files:
        for row in read_table(path).rows:
            keys = ast.literal_eval(row["choice_keys"])
            n += 1
            ours = parse_distribution(row["response"], keys)
            theirs = accept(row["response"])
            ours_ok += ours.ok
            theirs_ok += theirs.ok
            if ours.raw_sum is not None:
                sums.append(ours.raw_sum)
            if ours.ok and theirs.ok:
                shares = accepted_shares(theirs.text)
                a = np.array([[ours.distribution.get(k, 0.0) for k in keys]])
                b = np.array([[shares.get(k, 0.0) for k in keys]])
                moved.append(float(1 - metrics.alignment(a, b)[0]))
    if not n:
        return [{"step": "acceptance rule: the release has no RQ1 replies to compare on"}]
    note = (f"acceptance rule, on the release's {n} stored RQ1 replies ({len(files)} models): ours accepts "
            f"{ours_ok}, the release's {theirs_ok}; sums {min(sums):.1f}%-{max(sums):.1f}%")
    return [{"step": note, "items": n, "mean_change_vs_previous": float(np.mean(moved)) if moved else np.nan,
             "max_change_vs_previous": float(np.max(moved)) if moved else np.nan}]


def translation_rows(protocol: ReleaseProtocol) -> list[dict]:
    """The items each of the release's translations lacks (not asked under its protocol)."""
    from utils.probing.release.protocol import WAVE
    rows, total = [], len(protocol.questionnaire("English"))
    for path in sorted(protocol.checkout.path("dataset/questions").glob(f"{WAVE}_*.jsonl")):
        language = path.stem.split("_", 1)[1]
        if language in ("English", "shuffle"):
            continue
        missing = protocol.missing_items(language)
        rows.append({"step": f"item set, {language}: {total - len(missing)} of {total}"
                             + (f" (lacks {', '.join(missing)})" if missing else ""),
                     "items": total - len(missing)})
    return rows


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


def step_rows(method: str, dists: dict[str, np.ndarray], seconds: dict[str, float], n_options: np.ndarray,
              human=None) -> list[dict]:
    """One row per step: its change from the step before and from `ours`, its entropy, and with
    `human` ([C, I, K] shares) the mean score over countries and Kendall's tau of their ranking."""
    names = list(dists)
    base = "ours"
    ranked = None if human is None else country_scores(dists[base], human, n_options)
    rows = []
    for i, name in enumerate(names):
        previous = names[max(i - 1, 0)] if name != STEPS[1] or "ours, another seed" not in names else base
        row = {"method": method, "step": name, "items": int(np.isfinite(dists[name][:, 0]).sum()),
               "mean_entropy": metrics.mean_normalized_entropy(dists[name], n_options), "seconds": seconds[name]}
        for label, other in (("vs_previous", previous), ("vs_ours", base)):
            change = 1 - metrics.alignment(dists[name], dists[other], n_options)
            row[f"mean_change_{label}"] = float(np.nanmean(change))
            row[f"max_change_{label}"] = float(np.nanmax(change))
        if human is not None:
            scores = country_scores(dists[name], human, n_options)
            row["rq1_mean_score"] = float(np.nanmean(scores))
            row["kendall_tau_countries_vs_ours"] = kendall_tau(scores, ranked)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--release-dir", type=Path, required=True, help="a checkout of the paper's release")
    ap.add_argument("--out", type=Path, default=Path("figures") / "protocol_effects.csv", help="CSV to write")
    ap.add_argument("--limit", type=int, default=None, help="only the first N items (a quick look)")
    ap.add_argument("--methods", default="logprob,sample",
                    help="comma-separated: logprob, sample (default both; `sample` took 55 min on 2 CPU cores with --samples 20)")
    ap.add_argument("--samples", type=int, default=40, help="answers drawn per item by `sample` (default 40)")
    ap.add_argument("--human", type=Path, default=None,
                    help="prepared human table (dataset/prepare_wvs.py): adds the RQ1 mean score and country ranking")
    args = ap.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods or set(methods) - {"logprob", "sample"}:
        ap.error("--methods takes logprob and/or sample")

    from utils.probing.backends.hf.bundled import load_bundled_model
    from utils.probing.backends.hf.backend import HFBackend
    from utils.probing.methods.logprob import Logprob
    from utils.probing.methods.sample import Sample

    plans = {m: steps(args.release_dir, m) for m in methods}
    if args.limit:
        plans = {m: {k: v[:args.limit] for k, v in plan.items()} for m, plan in plans.items()}
    first = next(iter(plans.values()))["ours"]
    n_options = np.array([len(r.item.order) for r in first])
    human = None
    if args.human is not None:
        from utils.core.human.human_data import load_human
        data = load_human(args.human, [r.item.id for r in first], [r.item.order for r in first])
        human = data.shares()
        print(f"scoring against {len(data.country_codes)} countries of {args.human}"
              + (" (SYNTHETIC: not findings about people)" if data.synthetic else ""), flush=True)
    tokenizer, model = load_bundled_model(quiet=True)
    protocol = load_release_protocol(args.release_dir, "local")
    fixed = acceptance_rows(args.release_dir) + translation_rows(protocol)
    fixed += [{"step": f"{what}: not measured"} for what in NOT_MEASURED]
    rows = []
    for method, plan in plans.items():
        dists, seconds = {}, {}
        runs = list(plan.items())
        if method == "sample":  # the noise floor first: ours again with another seed
            runs.insert(1, ("ours, another seed", plan["ours"]))
        for name, requests in runs:
            seed = 1 if name == "ours, another seed" else 0
            backend = HFBackend(model, tokenizer, seed=seed)
            start = time.monotonic()
            dists[name] = answers(backend, Sample(args.samples) if method == "sample" else Logprob(), requests)
            seconds[name] = time.monotonic() - start
            print(f"{method} {name}: {len(requests)} items in {seconds[name]:.1f} s", flush=True)
        rows += step_rows(method, dists, seconds, n_options, human)
        df = write(rows + fixed, args.out)  # after each method, so a long `sample` run keeps what is done
    print(markdown(df))
    print(f"wrote {args.out}")
    return 0


def write(rows: list[dict], out: Path):
    import pandas as pd
    df = pd.DataFrame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False, float_format="%.4f")
    return df


if __name__ == "__main__":
    raise SystemExit(main())
