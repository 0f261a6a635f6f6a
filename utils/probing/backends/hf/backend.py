"""The backend for local Hugging Face causal LMs (transformers), on CPU or GPU.

Every primitive reuses the key/value cache of the token prefix all prompts of a condition share
(the instruction, and for `verbalized` the examples), computed once by `prepare()`:

* `option_logprobs`: `batch_size` items in one forward pass over a packed sequence, masked so each
  token sees only its own item's prompt (`packing.py`); equal to scoring each item alone (tests: 1e-5).
* `generate`, one answer: `model.generate`, each row stopping once its stop rule holds; with
  `batch_generation` (the default off the CPU) `batch_size` rows share one copy of the prefix cache.
* `generate`, n answers: each prompt computed once, its answers sampled as branches (`branches.py`).

Packing needs an attention that takes a custom mask, so flash-attention is switched to sdpa. Draws
come from the backend's own generator and random state, set by `seed(n)`: never torch's global seed.
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import logging
import math
import time
from collections.abc import Callable, Iterator

import torch
from transformers import DynamicCache, StoppingCriteria, StoppingCriteriaList

from utils.core.records import ProbeRequest
from utils.probing.backends import Completion, Generate, Score, Scores, Usage, continues_code
from utils.probing.backends.hf.branches import generation_eos, items_per_batch, sample_items
from utils.probing.backends.hf.packing import (
    additive_mask,
    code_scores,
    ends_answer_mask,
    gap_rows,
    pack,
    packed_layout,
    shared_prefix_len,
)

log = logging.getLogger(__name__)
MASKED_ATTENTION = ("sdpa", "eager")  # attention implementations that take a custom 4D float mask


class StopWhen(StoppingCriteria):
    """Per row: stop once its rule holds for the new text (`rules[row]`, None: never), or its last
    token ends the text (`end_ids`). `ends[row]` is the row's length when it stopped, since
    generate pads a stopped row while the others go on."""

    def __init__(self, tokenizer, start: int, end_ids=(), rules: list[Callable[[str], bool] | None] = ()):
        self.tokenizer, self.start, self.end_ids, self.rules = tokenizer, start, set(end_ids), list(rules)
        self.ends: dict[int, int] = {}

    def __call__(self, input_ids, scores, **kwargs) -> torch.Tensor:
        for row in range(input_ids.shape[0]):
            rule = self.rules[row] if row < len(self.rules) else None
            if row not in self.ends and (int(input_ids[row, -1]) in self.end_ids or rule is not None and rule(
                    self.tokenizer.decode(input_ids[row, self.start:], skip_special_tokens=True))):
                self.ends[row] = input_ids.shape[1]
        return torch.tensor([row in self.ends for row in range(input_ids.shape[0])], device=input_ids.device)


class HFBackend:
    """`batch_size`: items per forward pass (scoring), generate call (with `batch_generation`) or sampling
    loop (n answers); 1 asks each item alone. `special_tokens`: tokenize the chat text with special tokens
    added, as the release does (ours does not: the chat template writes them)."""

    PACK_TOKENS = 512  # a scoring pass packs items up to this many tokens (one longer item runs alone)

    def __init__(self, model, tokenizer, *, prefix_cache: bool = True, batch_size: int = 8,
                 special_tokens: bool = False, seed: int = 0):
        self.model, self.tokenizer, self.special_tokens = model, tokenizer, special_tokens
        self.use_prefix_cache, self.batch_size = prefix_cache, max(1, batch_size)
        self.device = next(model.parameters()).device
        self._prefix: list[int] = []
        self._prefix_cache: DynamicCache | None = None
        self._ends_answer: torch.Tensor | None = None
        self._ids: dict[ProbeRequest, list[int]] = {}  # token ids of the requests prepare() saw
        self._key_ids: dict[str, list[int]] = {}
        # transformers renamed forward's `past_key_values` to `cache` (5.x); accept both.
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._keep_kw = "logits_to_keep" in params
        if getattr(model.config, "_attn_implementation", None) not in MASKED_ATTENTION:
            model.set_attn_implementation("sdpa")
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        # Batched generation is for accelerators: on a 2-core CPU an 8-row step costs ~3 one-row steps
        # and a batch runs until its longest answer ends, so it measured slower (benchmarks/bench_local.py).
        self.batch_generation = self.device.type != "cpu"
        self.skip_cudnn_attention = True  # see `_attention_kernels`
        self.seed(seed)

    # -- the interface ----------------------------------------------------------------------
    def seed(self, n: int) -> None:
        """Draw from seed `n` from now on: the branch sampler's generator, and the random state
        `model.generate` samples from (held here, swapped in only while it runs: `_own_draws`)."""
        self._generator = torch.Generator(device=self.device).manual_seed(n)
        self._state = _seeded_state(n, self.device)

    def stop(self) -> None:
        """Nothing to stop: a batch in progress ends with the process."""

    def encode(self, request: ProbeRequest) -> list[int]:
        ids = self._ids.get(request)
        if ids is None:
            msgs = [{"role": m.role, "content": m.content} for m in request.messages]
            text = self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            ids = self.tokenizer(text, add_special_tokens=self.special_tokens)["input_ids"]
        return ids

    def prepare(self, requests: list[ProbeRequest]) -> None:
        """Tokenize the requests and cache the longest token prefix they all share (if it is worth it)."""
        self._ids = {r: self.encode(r) for r in requests}
        self._prefix, self._prefix_cache = [], None
        n = shared_prefix_len(list(self._ids.values())) if self.use_prefix_cache else 0
        if not n:
            return
        self._prefix = next(iter(self._ids.values()))[:n]
        cache = DynamicCache()
        with torch.inference_mode(), self._attention_kernels():
            self.model(torch.tensor([self._prefix], device=self.device), use_cache=True, **{self._cache_kw: cache})
        self._prefix_cache = cache
        log.info("cached a shared prompt prefix of %d tokens", n)

    def batches(self, requests: list[ProbeRequest], how: Generate | Score) -> Iterator[list[int]]:
        """Consecutive runs of `requests`: within `batch_size` and (scoring) `PACK_TOKENS`, which
        bounds the mask and attention memory; n answers each: at most 256 answers in all."""
        if isinstance(how, Score):
            most, budget = self.batch_size, self.PACK_TOKENS
        elif how.n > 1:
            most, budget = items_per_batch(self.batch_size, how.n), math.inf
        else:
            most, budget = (self.batch_size if self.batch_generation else 1), math.inf
        rest = list(range(len(requests)))
        while rest:
            batch = pack(rest[0], rest[1:], lambda i: self._own_len(requests[i], isinstance(how, Score)), most, budget)
            yield batch
            rest = rest[len(batch):]

    def option_logprobs(self, requests: list[ProbeRequest], how: Score) -> Iterator[tuple[int, Scores]]:
        for idx, batch, share, scored in self._asked(requests, how, self._score):
            for i, r, scores in zip(idx, batch, scored):
                yield i, Scores(scores, Usage(share, len(self.encode(r))))

    def generate(self, requests: list[ProbeRequest], how: Generate) -> Iterator[tuple[int, Completion]]:
        write = self._branches if how.n > 1 else self._generate
        for idx, batch, share, written in self._asked(requests, how, lambda b: write(b, how)):
            for i, r, (texts, tokens) in zip(idx, batch, written):
                yield i, Completion(tuple(texts), Usage(share, len(self.encode(r)), tokens))

    def _asked(self, requests, how, ask):
        """Per batch: its indexes, its requests, each item's share of its time, and `ask(batch)`."""
        for idx in self.batches(requests, how):
            batch = [requests[i] for i in idx]
            start = time.monotonic()
            with torch.inference_mode(), self._attention_kernels():
                out = ask(batch)
            yield idx, batch, (time.monotonic() - start) / len(batch), out

    # -- shared set-up --------------------------------------------------------------------
    def _attention_kernels(self):
        """No cuDNN attention on CUDA (`skip_cudnn_attention`): it plans anew for every sequence length,
        and ours change with every packed batch and token (H200, bf16, 144 logprob items: 8.5 s with it,
        1.1 s without; padding lengths to multiples of 64 gave 2.1 s)."""
        if not (self.skip_cudnn_attention and self.device.type == "cuda"):
            return contextlib.nullcontext()
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])

    @contextlib.contextmanager
    def _own_draws(self):
        """`model.generate` draws from torch's global random state: swap in this backend's own, then restore it."""
        outside = _state(self.device)
        _set_state(self._state, self.device)
        try:
            yield
        finally:
            self._state = _state(self.device)
            _set_state(outside, self.device)

    def _cached_prefix_len(self, ids: list[int]) -> int:
        n = len(self._prefix)
        return n if self._prefix_cache is not None and ids[:n] == self._prefix and len(ids) > n else 0

    def _own_len(self, request: ProbeRequest, scoring: bool) -> int:
        """Tokens this item adds to a batch: its own (past the cached prefix) and, scoring, its codes'."""
        ids = self.encode(request)
        codes = sum(map(len, self._codes(request.item.choice_keys))) if scoring else 0
        return len(ids) - self._cached_prefix_len(ids) + codes

    def _prefix_for(self, seqs: list[list[int]], rows: int):
        """The shared prefix every sequence starts with, and a copy of its cache for `rows` rows."""
        p = min(self._cached_prefix_len(s) for s in seqs)
        if not p:
            return 0, None
        cache = copy.deepcopy(self._prefix_cache)
        if rows > 1:
            cache.batch_repeat_interleave(rows)
        return p, cache

    # -- scoring ------------------------------------------------------------------------
    def _ends_answer_mask(self) -> torch.Tensor:
        if self._ends_answer is None:
            tokens = self.tokenizer.convert_ids_to_tokens(list(range(len(self.tokenizer))))
            flags = [not continues_code(self.tokenizer.convert_tokens_to_string([t]) if t is not None else "")
                     for t in tokens]
            n_out = self.model.get_output_embeddings().weight.shape[0]
            self._ends_answer = ends_answer_mask(flags, n_out).to(self.device)
        return self._ends_answer

    def _codes(self, keys) -> list[list[int]]:
        for k in keys:
            if k not in self._key_ids:
                self._key_ids[k] = self.tokenizer(k, add_special_tokens=False)["input_ids"]
        return [self._key_ids[k] for k in keys]

    def _score(self, batch: list[ProbeRequest]) -> list[dict[str, float]]:
        """Option log-scores from one packed forward pass (without a usable prefix cache, items packed whole)."""
        seqs = [self.encode(r) for r in batch]
        p, cache = self._prefix_for(seqs, 1)
        codes = [self._codes(r.item.choice_keys) for r in batch]
        lay = packed_layout(list(zip(seqs, codes)), p)
        tokens, read_at = torch.tensor([lay.tokens], device=self.device), lay.read_at
        kwargs = {"attention_mask": additive_mask(lay.sees, self.model.dtype)[None, None].to(self.device),
                  "position_ids": torch.tensor([lay.positions], device=self.device)}
        kwargs["use_cache"] = bool(p)
        if p:
            kwargs[self._cache_kw] = cache
        if self._keep_kw:
            kwargs["logits_to_keep"] = torch.tensor(read_at, device=self.device)
            logits = self.model(tokens, **kwargs).logits[0]
        else:
            logits = self.model(tokens, **kwargs).logits[0, read_at]
        logp = torch.log_softmax(logits.float(), dim=-1)
        stop = torch.logsumexp(logp[:, self._ends_answer_mask()], dim=-1).tolist()  # log P(answer ends here)
        return code_scores(lay, codes, [r.item.choice_keys for r in batch], logp.cpu(), stop)

    # -- generating ---------------------------------------------------------------------
    def _branches(self, batch: list[ProbeRequest], how: Generate) -> list[tuple[list[str], int]]:
        """`how.n` answers per item, all items of `batch` in one sampling loop (`branches.py`)."""
        seqs = [self.encode(r) for r in batch]
        p = min(self._cached_prefix_len(s) for s in seqs)
        sampled = sample_items(self.model, self.tokenizer, seqs, [_rule(how, r) for r in batch], samples=how.n,
                               temperature=how.temperature, max_new_tokens=how.max_tokens, prefix_len=p,
                               prefix_cache=self._prefix_cache if p else None, pad_id=self._pad,
                               cache_kw=self._cache_kw, generator=self._generator)
        return [(s.answers, s.completion_tokens) for s in sampled]

    def _generate(self, batch: list[ProbeRequest], how: Generate) -> list[tuple[list[str], int]]:
        """One answer per request over one copy of the prefix cache (rows `prefix + masked gap + item`)."""
        seqs = [self.encode(r) for r in batch]
        p, cache = self._prefix_for(seqs, len(batch))
        rows, mask, width = gap_rows(seqs, p, self._pad)
        stop = StopWhen(self.tokenizer, p + width, generation_eos(self.model), [_rule(how, r) for r in batch])
        kwargs = {"max_new_tokens": how.max_tokens, "do_sample": how.temperature > 0,
                  "stopping_criteria": StoppingCriteriaList([stop]), "pad_token_id": self._pad}
        if how.temperature > 0:
            kwargs.update(temperature=how.temperature, top_p=1.0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if p:
            kwargs[self._cache_kw] = cache
        with self._own_draws():
            out = self.model.generate(torch.tensor(rows, device=self.device),
                                      attention_mask=torch.tensor(mask, device=self.device), **kwargs)
        written = []
        for row in range(len(batch)):
            new = out[row, p + width:stop.ends.get(row, out.shape[1])]
            written.append(([self.tokenizer.decode(new, skip_special_tokens=True)], int(new.numel())))
        return written


def _rule(how: Generate, request: ProbeRequest) -> Callable[[str], bool] | None:
    return None if how.stop is None else (lambda text: how.stop(request, text))


def _devices(device: torch.device) -> list[str]:
    """Where `model.generate` may draw: the CPU, and every GPU of the device's kind."""
    if device.type == "cuda":
        return ["cpu"] + [f"cuda:{d}" for d in range(torch.cuda.device_count())]
    return ["cpu", "mps"] if device.type == "mps" else ["cpu"]


def _seeded_state(n: int, device: torch.device) -> list:
    """The random state that seeding torch's global generators with `n` would set, made without touching them."""
    return [torch.Generator(device=d).manual_seed(n).get_state() for d in _devices(device)]


def _state(device: torch.device) -> list:
    return [torch.get_rng_state() if d == "cpu" else torch.mps.get_rng_state() if d == "mps"
            else torch.cuda.get_rng_state(d) for d in _devices(device)]


def _set_state(state: list, device: torch.device) -> None:
    for d, s in zip(_devices(device), state):
        torch.set_rng_state(s) if d == "cpu" else torch.mps.set_rng_state(s) if d == "mps" else \
            torch.cuda.set_rng_state(s, d)
