"""How much the survey's real shares change the answers to the release's English few-shot prompt
for Germany and Korea, whose example numbers are its format examples' made-up ones.

    python benchmarks/few_shot_real_shares.py --release-dir <paper-release>
    python benchmarks/few_shot_real_shares.py --release-dir ... --human dataset/human/WV7.csv   # + scores

The release's English few-shot prompts for Germany and Korea (`inputs/few_shot/lang-En_dist-
<country>.txt`) show the five right questions with the numbers of its format examples
(`lang-En_dist-random.txt`), so the paper's "few-shot (English)" rows for those two countries were
not real few-shot steering. This script asks the bundled model (SmolLM2-135M-Instruct, `logprob`:
one pass, next-token probabilities over the option codes, on the CPU) each country's scored items
(the 144 less the five example items) three times, all under the release's own prompts read from
the checkout at run time:

    rq1        the release's RQ1 prompt (no steering)
    release    its English few-shot prompt for the country, as it builds it
    real       the same prompt with each example's numbers replaced in place by the country's
               survey shares (inputs/few_shot/<country>.json, WVS Wave 7), formatted as the
               release writes them ('18.28%'); the changed copy of its file lives in a temporary
               folder only, and the script checks the two prompts differ in those numbers alone

Per country: the mean and largest change between the `release` and `real` answers (1 - the
paper's item score between two answers, over the semantic order) and how far each moved the model
from its `rq1` answers. With --human (a table prepared by dataset/prepare_wvs.py) each prompt's
answers are also scored against the country's people: the mean item score, and the gain of each
few-shot prompt over `rq1`, which is what the paper's rows report for its models. Writes --out
(default figures/few_shot_real_shares.csv) and prints the table as Markdown.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]
from protocol_effects import answers, markdown, write  # noqa: E402

from utils.analysis import metrics  # noqa: E402
from utils.core.paths import INPUTS_DIR  # noqa: E402
from utils.core.records import ProbeRequest  # noqa: E402
from utils.probing.conditions import few_shot_items, steering_countries  # noqa: E402
from utils.probing.release.protocol import ReleaseProtocol, load_release_protocol  # noqa: E402

COUNTRIES = ("Germany", "Korea")
# one example's answer entry as the release writes it: '1': '31.01%' (a key may lack its quotes: 5: '5.47%')
ENTRY = re.compile(r"(?P<key>'\w+'|\d+)(?P<sep>:\s*')(?P<value>\d+(?:\.\d+)?)(?P<end>%')")
FILE = "inputs/few_shot/lang-En_dist-{}.txt"
FORMAT_EXAMPLES = "inputs/few_shot/lang-En_dist-random.txt"


def numbers(text: str) -> list[list[tuple[str, str]]]:
    """Per line holding answer entries, its (key, value) pairs in order."""
    out = []
    for line in text.splitlines():
        found = [(m["key"].strip("'"), m["value"]) for m in ENTRY.finditer(line)]
        if found:
            out.append(found)
    return out


def with_shares(text: str, items: list[dict]) -> str:
    """`text` (a few-shot file) with the k-th example's numbers replaced by `items[k]`'s shares.

    >>> with_shares("Q\\nAnswer: {'1': '31.01%', 2: '68.99%'}\\n", [{"percentages": {"1": 40, "2": 60}}])
    "Q\\nAnswer: {'1': '40.00%', 2: '60.00%'}\\n"
    """
    lines = text.splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if ENTRY.search(line)]
    if len(at) != len(items):
        raise SystemExit(f"the few-shot file shows {len(at)} answers, the country's shares are for {len(items)} items")
    for i, item in zip(at, items):
        shares = {str(k): float(v) for k, v in item["percentages"].items()}
        keys = [m["key"].strip("'") for m in ENTRY.finditer(lines[i])]
        if sorted(keys) != sorted(shares):
            raise SystemExit(f"{item.get('id', '?')}: the file's answer has codes {keys}, the shares {sorted(shares)}")
        lines[i] = ENTRY.sub(lambda m, shares=shares: "{}{}{:.2f}{}".format(
            m["key"], m["sep"], shares[m["key"].strip("'")], m["end"]), lines[i])
    return "".join(lines)


def without_numbers(text: str) -> str:
    return ENTRY.sub(lambda m: m["key"] + m["sep"] + m["end"], text)


def numbers_source(protocol: ReleaseProtocol, country: str, text: str) -> str:
    """Where the file's numbers come from: how many of its answers are the format examples' own,
    and which other countries' English few-shot files show the very same numbers."""
    mine = numbers(text)
    made_up = numbers(protocol.checkout.path(FORMAT_EXAMPLES).read_text(encoding="utf-8"))
    same = sum(a in made_up for a in mine)
    twins = [c for c in steering_countries(INPUTS_DIR) if c != country and protocol.checkout.path(FILE.format(c)).is_file()
             and numbers(protocol.checkout.path(FILE.format(c)).read_text(encoding="utf-8")) == mine]
    return f"{same} of {len(mine)} answers as in the format examples" + (f"; same as {', '.join(twins)}" if twins else "")


def country_plan(protocol: ReleaseProtocol, country: str, folder: Path) -> tuple[dict[str, list[ProbeRequest]], str]:
    """The three request lists over the country's scored items, and what its file's numbers are."""
    shots = few_shot_items(country)
    source = protocol.checkout.path(FILE.format(country))
    text = source.read_text(encoding="utf-8")
    kind = numbers_source(protocol, country, text)
    real_file = folder / f"{country}.txt"
    real_file.write_text(with_shares(text, shots), encoding="utf-8")
    skip = {e["id"] for e in shots}
    keep = lambda items: [it for it in items if it.id not in skip]  # noqa: E731

    def logprob(condition) -> list[ProbeRequest]:
        return [ProbeRequest(r.item, r.messages, "logprob") for r in condition.requests]

    plan = {"rq1": logprob(protocol.rq1(keep)),
            "release": logprob(protocol.rq2("few-shot", country, keep)),
            "real": logprob(protocol.rq2("few-shot", country, keep, examples=str(real_file)))}
    ids = [[r.item.id for r in v] for v in plan.values()]
    if ids[0] != ids[1] or ids[1] != ids[2]:
        raise SystemExit(f"{country}: the three prompts were built for different items")
    for a, b in zip(plan["release"], plan["real"]):
        ua, ub = a.messages[-1].content, b.messages[-1].content
        if ua == ub or without_numbers(ua) != without_numbers(ub) or a.messages[:-1] != b.messages[:-1]:
            raise SystemExit(f"{country} {a.item.id}: the two few-shot prompts differ in more than the numbers")
    return plan, kind


def country_row(country: str, kind: str, dists: dict[str, np.ndarray], n_options: np.ndarray, seconds: float,
                human_shares: np.ndarray | None) -> dict:
    """One table row; `human_shares` is the country's [I, K] shares over the same items."""
    def change(a: str, b: str) -> np.ndarray:
        return 1 - metrics.alignment(dists[a], dists[b], n_options)

    real_vs_release = change("real", "release")
    row = {"country": country, "release_numbers": kind, "items": int(np.isfinite(dists["real"][:, 0]).sum()),
           "mean_change_real_vs_release": float(np.nanmean(real_vs_release)),
           "max_change_real_vs_release": float(np.nanmax(real_vs_release)),
           "mean_change_release_vs_rq1": float(np.nanmean(change("release", "rq1"))),
           "mean_change_real_vs_rq1": float(np.nanmean(change("real", "rq1"))), "seconds": seconds}
    if human_shares is not None:
        with metrics.quiet_nan_warnings():
            score = {k: float(np.nanmean(metrics.alignment(d, human_shares, n_options))) for k, d in dists.items()}
        row.update({f"score_{k}": v for k, v in score.items()})
        row["gain_release"] = score["release"] - score["rq1"]
        row["gain_real"] = score["real"] - score["rq1"]
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--release-dir", type=Path, required=True, help="a checkout of the paper's release")
    ap.add_argument("--out", type=Path, default=Path("figures") / "few_shot_real_shares.csv", help="CSV to write")
    ap.add_argument("--countries", default=",".join(COUNTRIES), help="comma-separated (default Germany,Korea)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N scored items (a quick look)")
    ap.add_argument("--human", type=Path, default=None,
                    help="prepared human table (dataset/prepare_wvs.py): adds each prompt's score and gain")
    args = ap.parse_args(argv)
    countries = [c.strip() for c in args.countries.split(",") if c.strip()]
    known = steering_countries(INPUTS_DIR)
    if unknown := [c for c in countries if c not in known]:
        ap.error(f"unknown country {unknown[0]!r}; choose from {', '.join(known)}")

    from utils.probing.backends.hf.bundled import load_bundled_model
    from utils.probing.backends.hf.backend import HFBackend
    from utils.probing.methods.logprob import Logprob

    protocol = load_release_protocol(args.release_dir, "local")
    tokenizer, model = load_bundled_model(quiet=True)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for country in countries:
            plan, kind = country_plan(protocol, country, Path(folder))
            plan = {k: v[:args.limit] for k, v in plan.items()}
            first = plan["rq1"]
            n_options = np.array([len(r.item.order) for r in first])
            human_shares = None
            if args.human is not None:
                from utils.core.human.human_data import load_human
                data = load_human(args.human, [r.item.id for r in first], [r.item.order for r in first])
                code = int(known[country]["wvs_code"])
                if code not in {int(c) for c in data.country_codes}:
                    raise SystemExit(f"{args.human} has no respondents of {country} (WVS code {code})")
                human_shares = data.select([code]).shares()[0]
            start = time.monotonic()
            dists = {name: answers(HFBackend(model, tokenizer), Logprob(), requests) for name, requests in plan.items()}
            rows.append(country_row(country, kind, dists, n_options, time.monotonic() - start, human_shares))
            print(f"{country}: {len(first)} items, three prompts in {rows[-1]['seconds']:.1f} s", flush=True)
    df = write(rows, args.out)
    print(markdown(df))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
