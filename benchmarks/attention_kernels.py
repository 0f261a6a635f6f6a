"""Does PyTorch's cuDNN attention slow our local prober down on this GPU? One run, one setting.

    python benchmarks/attention_kernels.py --shape benchmarks/shapes/smollm2-360m.json --dtype bfloat16
    python benchmarks/attention_kernels.py --shape benchmarks/shapes/smollm2-360m.json --dtype bfloat16 --allow-cudnn

Times `HFBackend` over the 144 items (logprob) or 4 items (verbalized, 128 new tokens) twice in
one process: `first` includes whatever the kernels plan for each new sequence length, `second`
runs the same lengths again. Run each setting in its own process, so that neither inherits the
other's plans. The backend leaves cuDNN out on CUDA (`HFBackend.skip_cudnn_attention`);
`--allow-cudnn` puts it back. Needs a CUDA device.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]
from bench_local import random_model  # noqa: E402

from utils.core.questionnaire import load_questionnaire, questionnaire_path  # noqa: E402
from utils.probing.backends.hf.backend import HFBackend  # noqa: E402
from utils.probing.loop import ask  # noqa: E402
from utils.probing.methods.logprob import Logprob  # noqa: E402
from utils.probing.methods.verbalized import Verbalized  # noqa: E402
from utils.probing.prompts import build_requests, load_prompt_set  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=Path, required=True, help="a LlamaConfig JSON from benchmarks/shapes/")
    ap.add_argument("--tokenizer", type=Path, default=None, help="tokenizer folder (default: the bundled model's)")
    ap.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--method", default="logprob", choices=["logprob", "verbalized"])
    ap.add_argument("--allow-cudnn", action="store_true", help="let PyTorch pick cuDNN attention (its default)")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("error: no CUDA device; this benchmark is about a GPU attention kernel", file=sys.stderr)
        return 2
    tokenizer, model = random_model(args.shape, args.tokenizer, "cuda", args.dtype)
    with torch.inference_mode():  # CUDA context and allocator set-up is not part of either run
        model(torch.tensor([[tokenizer.eos_token_id or 0] * 32], device="cuda"))
    items = load_questionnaire(questionnaire_path())
    requests = build_requests(items if args.method == "logprob" else items[::36][:4], args.method, load_prompt_set())
    line = []
    for run in ("first", "second"):
        backend = HFBackend(model, tokenizer, batch_size=8)
        backend.skip_cudnn_attention = not args.allow_cudnn
        backend._ends_answer_mask()  # a vocabulary scan, once per process
        torch.cuda.synchronize()
        start = time.perf_counter()
        backend.prepare(requests)
        list(ask(backend, Logprob() if args.method == "logprob" else Verbalized(max_tokens=128), requests))
        torch.cuda.synchronize()
        secs = time.perf_counter() - start
        line.append(f"{run} {secs:.2f} s ({len(requests) / secs:.1f} items/s)")
    print(f"{args.shape.stem} {args.dtype} {args.method}, {len(requests)} items, cuDNN attention "
          f"{'allowed' if args.allow_cudnn else 'left out'}: " + "; ".join(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
