"""Local probing speed with the bundled SmolLM2-135M-Instruct on the CPU: ours against the naive way.

    python benchmarks/bench_local.py            # logprob on 16 items (and all 144 for ours), verbalized on 4
    python benchmarks/bench_local.py --quick    # logprob on 8 items, verbalized on 2

logprob. The naive way (the original approach): for each item and each option code, the whole
prompt plus the code through the model, no cache, one sequence at a time, reading the code's
log-probability and then the probability that the answer ends. Ours (`HFBackend`): the shared
prompt prefix computed once, then `batch_size` items per forward pass, each with all its codes,
packed with a block attention mask (see utils/probing/backends/hf/backend.py). Both run here on the same items
(every 9th of the 144), timings include `prepare()`; the probabilities must agree to 1e-4.

verbalized. Naive: the whole prompt, greedy generation up to 256 new tokens (or end of text),
one item at a time. Ours: the shared prefix cached, generation stops once the `{...}` mapping is
closed; one item at a time (the default on the CPU) and `batch_size` items per generate call
(the default on a GPU). Ours' texts must be the start of the naive texts (the same greedy path,
perhaps cut earlier).

On a GPU, with a model shape rather than real weights (the weights do not change the speed):

    python benchmarks/bench_local.py --device cuda --dtype bfloat16 --shape benchmarks/shapes/smollm2-1.7b.json

`--shape` builds a Llama-architecture model with random weights from a config file in
`benchmarks/shapes/`, with the bundled model's tokenizer (or `--tokenizer DIR`). In bfloat16
the packed and the one-sequence computations round differently, so compare with `--tolerance`
there and use float32 for the 1e-4 check.

sample. `--samples` answers per item at temperature 1: N separate generate calls per item
against ours, all answers of several items in one batch; see benchmarks/local_sample.py.

    python benchmarks/bench_local.py --only sample        # 4 items x 40 answers, 3 repeats

The last line is `ratio: X`: ours against the naive way in items per second, logprob, same items
(with `--only`, of that part).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local_sample import bench_sample  # noqa: E402  (benchmarks/local_sample.py)

from utils.core.logs import log_to_stderr  # noqa: E402
from utils.core.questionnaire import load_questionnaire, questionnaire_path  # noqa: E402
from utils.probing.backends.hf.bundled import BUNDLED_GGUF, BUNDLED_NAME, bundled_model_dir, load_bundled_model  # noqa: E402
from utils.probing.backends.hf.loading import DTYPES, load_model, torch_dtype  # noqa: E402
from utils.probing.backends.hf.backend import HFBackend  # noqa: E402
from utils.probing.loop import ask  # noqa: E402
from utils.probing.methods.logprob import Logprob  # noqa: E402
from utils.probing.methods.verbalized import Verbalized  # noqa: E402
from utils.probing.prompts import build_requests, load_prompt_set  # noqa: E402

TOLERANCE = 1e-4


def random_model(shape: Path, tokenizer_dir: Path | None, device: str, dtype: str):
    """A Llama-architecture model of the shape in `shape` (LlamaConfig fields) with random
    weights, made directly on `device`, and the bundled (or the given) tokenizer."""
    if tokenizer_dir is not None:
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    else:
        tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_dir()), gguf_file=BUNDLED_GGUF)
    fields = {k: v for k, v in json.loads(Path(shape).read_text()).items() if not k.startswith("_")}
    cfg = LlamaConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **fields)
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(cfg).to(torch_dtype("float32" if dtype == "auto" else dtype))
    return tokenizer, model.eval()


def naive_logprob(model, tokenizer, ids: list[int], keys, ends: torch.Tensor) -> dict[str, float]:
    """Each code as the whole answer: prompt + code through the model, no cache; renormalized."""
    scores = {}
    for key in keys:
        code = tokenizer(key, add_special_tokens=False)["input_ids"]
        logp = torch.log_softmax(model(torch.tensor([ids + code], device=model.device)).logits[0].float(), -1)
        total = sum(logp[len(ids) - 1 + j, t].item() for j, t in enumerate(code))
        scores[key] = total + torch.logsumexp(logp[-1][ends], 0).item()
    top = max(scores.values())
    z = sum(math.exp(v - top) for v in scores.values())
    return {k: math.exp(v - top) / z for k, v in scores.items()}


def run_ours(model, tokenizer, requests, batch_size: int) -> tuple[float, list[dict[str, float]]]:
    backend = HFBackend(model, tokenizer, batch_size=batch_size)
    backend._ends_answer_mask()  # built once per process (vocabulary scan), not part of a run
    start = time.perf_counter()
    backend.prepare(requests)
    dists = [res.distribution for _, res in ask(backend, Logprob(), requests)]
    return time.perf_counter() - start, dists


def max_diff(a: list[dict[str, float]], b: list[dict[str, float]]) -> float:
    return max(abs(x[k] - y[k]) for x, y in zip(a, b) for k in x)


def bench_logprob(model, tokenizer, items, chosen, every: int, args) -> tuple[float, float]:
    """Print the logprob table; return (ratio of ours to naive, worst probability difference)."""
    all_requests = build_requests(items, "logprob", load_prompt_set())
    requests = build_requests(chosen, "logprob", load_prompt_set())
    probe = HFBackend(model, tokenizer)
    ends = probe._ends_answer_mask()
    rows = []  # (way, items, seconds, max diff)
    start = time.perf_counter()
    naive = [naive_logprob(model, tokenizer, probe.encode(r), r.item.choice_keys, ends) for r in requests]
    naive_s = time.perf_counter() - start
    rows.append(("naive: prompt + code per option, no cache, one at a time", len(requests), naive_s, 0.0))
    one_s, one = run_ours(model, tokenizer, requests, 1)
    rows.append(("ours, batch_size=1: prefix cache, all codes in one pass", len(requests), one_s, max_diff(one, naive)))
    ours_s, ours = run_ours(model, tokenizer, requests, args.batch_size)
    rows.append((f"ours, batch_size={args.batch_size}: + items packed per pass", len(requests), ours_s,
                 max_diff(ours, naive)))
    if not args.quick:
        full_s, full = run_ours(model, tokenizer, all_requests, args.batch_size)
        picked = [full[items.index(it)] for it in chosen]
        rows.append((f"ours, batch_size={args.batch_size}, all {len(items)} items", len(items), full_s,
                     max_diff(picked, naive)))
    tokens = sum(len(probe.encode(r)) for r in requests) / len(requests)
    codes = sum(len(r.item.choice_keys) for r in requests) / len(requests)
    print(f"\nlogprob: {len(requests)} items (every {every}th; {tokens:.0f} prompt tokens and {codes:.1f} codes "
          f"on average)")
    print("| way | items | seconds | items/s | max abs diff vs naive |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for way, n, secs, diff in rows:
        print(f"| {way} | {n} | {secs:.1f} | {n / secs:.2f} | {diff:.1e} |")
    return naive_s / ours_s, max(r[3] for r in rows)


def bench_verbalized(model, tokenizer, items, n_verb: int, args) -> tuple[float, bool]:
    """Print the verbalized table; return (ratio of ours one at a time to naive, texts agree)."""
    probe = HFBackend(model, tokenizer)
    vreqs = build_requests(items[::len(items) // n_verb][:n_verb], "verbalized", load_prompt_set())
    pad = tokenizer.pad_token_id or tokenizer.eos_token_id
    start = time.perf_counter()
    naive_texts, naive_lengths = [], []
    for r in vreqs:
        ids = torch.tensor([probe.encode(r)], device=model.device)
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=256, do_sample=False,
                             temperature=None, top_p=None, top_k=None, pad_token_id=pad)
        naive_lengths.append(out.shape[1] - ids.shape[1])
        naive_texts.append(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
    vnaive_s = time.perf_counter() - start
    ours_rows = []  # (way, seconds, results)
    for batched in (False, True):
        prober = HFBackend(model, tokenizer, batch_size=args.batch_size)
        prober.batch_generation = batched  # off by default on the CPU (see utils/probing/backends/hf/backend.py)
        start = time.perf_counter()
        prober.prepare(vreqs)
        results = [res for _, res in ask(prober, Verbalized(max_tokens=256), vreqs)]
        ours_rows.append((f"ours, {args.batch_size} per generate call (the default on a GPU)" if batched else
                          "ours, one at a time (the default on the CPU)", time.perf_counter() - start, results))
    verb_ok = all(n.startswith(o.raw_text) for _, _, res in ours_rows for n, o in zip(naive_texts, res))
    print(f"\nverbalized: {len(vreqs)} item(s), {len(prober.encode(vreqs[0]))} prompt tokens, shared prefix "
          f"{len(prober._prefix)} tokens cached by ours; new tokens per item (naive): {naive_lengths}")
    print("| way | items | new tokens | seconds | items/s | mappings parsed |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| naive: whole prompt, up to 256 new tokens, one at a time | {len(vreqs)} | {sum(naive_lengths)} | "
          f"{vnaive_s:.1f} | {len(vreqs) / vnaive_s:.3f} | - |")
    for way, secs, res in ours_rows:
        print(f"| {way}: prefix cache, stop at the closed mapping | {len(vreqs)} | "
              f"{sum(r.completion_tokens for r in res)} | {secs:.1f} | {len(vreqs) / secs:.3f} | "
              f"{sum(r.status == 'ok' for r in res)} |")
    print(f"ours' texts are the start of the naive texts: {'yes' if verb_ok else 'NO'}")
    print(f"verbalized ratio, one at a time (CPU default): {vnaive_s / ours_rows[0][1]:.1f}; "
          f"batched: {vnaive_s / ours_rows[1][1]:.1f}")
    return vnaive_s / ours_rows[0][1], verb_ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="8 logprob items, 2 verbalized items, no 144-item run")
    p.add_argument("--items", type=int, default=None, help="logprob items for the same-items comparison (default 16)")
    p.add_argument("--verbalized-items", type=int, default=None,
                   help="verbalized items (default 4; 0 skips; at least 2, so that they share a prefix to cache)")
    p.add_argument("--only", choices=["logprob", "verbalized", "sample"], default=None, help="run one of the parts")
    p.add_argument("--sample-items", type=int, default=None, help="items for the sample part (default 4; 0 skips)")
    p.add_argument("--samples", type=int, default=None, help="answers per item in the sample part (default 40)")
    p.add_argument("--sample-repeats", type=int, default=None,
                   help="timed repeats of the sample part; its ratio is their median (default 3)")
    p.add_argument("--batch-size", type=int, default=8,
                   help="our items per forward pass (logprob) or generate call (verbalized); default 8")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--model", type=Path, default=None,
                   help="a Hugging Face model folder instead of the bundled model (the tests use a tiny one)")
    p.add_argument("--shape", type=Path, default=None,
                   help="instead of a model: a LlamaConfig JSON (benchmarks/shapes/) built with random weights")
    p.add_argument("--tokenizer", type=Path, default=None,
                   help="tokenizer folder for --shape (default: the bundled model's tokenizer)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--dtype", default="auto", choices=list(DTYPES), help="model dtype (default auto: float32)")
    p.add_argument("--tolerance", type=float, default=TOLERANCE,
                   help=f"largest allowed probability difference from the naive way (default {TOLERANCE:g})")
    args = p.parse_args(argv)
    log_to_stderr(logging.ERROR)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    n_items = args.items or (8 if args.quick else 16)
    n_verb = args.verbalized_items if args.verbalized_items is not None else (2 if args.quick else 4)
    n_verb = 0 if (n_verb <= 0 and args.only != "verbalized") or args.only in ("logprob", "sample") else max(2, n_verb)
    n_sample = args.sample_items if args.sample_items is not None else (2 if args.quick else 4)
    n_sample = 0 if args.only in ("logprob", "verbalized") else max(n_sample, 1 if args.only == "sample" else 0)

    start = time.perf_counter()
    if args.shape:
        name = f"{args.shape.stem} shape, random weights"
        tokenizer, model = random_model(args.shape, args.tokenizer, args.device, args.dtype)
    elif args.model:
        name, (tokenizer, model) = args.model.name, load_model(args.model, device=args.device, dtype=args.dtype)
    else:
        name, (tokenizer, model) = BUNDLED_NAME, load_bundled_model(device=args.device, dtype=args.dtype, quiet=True)
    where = torch.cuda.get_device_name(model.device) if model.device.type == "cuda" else \
        f"{torch.get_num_threads()} CPU threads"
    print(f"{name} ({model.dtype}, {sum(t.numel() for t in model.parameters()) / 1e6:.1f}M parameters) loaded "
          f"in {time.perf_counter() - start:.1f}s; torch {torch.__version__}, {where}")
    with torch.inference_mode():  # first-call set-up (kernels, allocator) is not part of either way
        model(torch.tensor([[tokenizer.eos_token_id or 0] * 32], device=model.device))
    items = load_questionnaire(questionnaire_path())
    every = max(1, len(items) // n_items)
    chosen = items[::every][:n_items]

    ratio = worst = None
    if args.only not in ("verbalized", "sample"):
        ratio, worst = bench_logprob(model, tokenizer, items, chosen, every, args)
    verb_ok = True
    if n_verb:
        verb_ratio, verb_ok = bench_verbalized(model, tokenizer, items, n_verb, args)
    if n_sample:
        sample_ratio = bench_sample(model, tokenizer, items, n_sample, args.samples or (10 if args.quick else 40),
                                    args.sample_repeats or (1 if args.quick else 3), args.batch_size)
    if ratio is None:  # verbalized or sample only
        print(f"ratio: {sample_ratio if args.only == 'sample' else verb_ratio:.1f}")
        return 0 if verb_ok else 1
    same = worst <= args.tolerance
    print(f"\nlogprob probabilities agree with the naive way to {args.tolerance:g}: {'yes' if same else 'NO'} "
          f"(max abs diff {worst:.1e}); goal (>= 4x): {'met' if ratio >= 4 and same else 'NOT met'}")
    print(f"ratio: {ratio:.1f}")
    return 0 if same and verb_ok else 1


if __name__ == "__main__":
    sys.exit(main())
