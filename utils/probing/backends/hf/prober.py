"""Prober for local Hugging Face causal LMs (transformers), on CPU or GPU.

All methods reuse the key/value cache of the token prefix every prompt shares (the
instruction, and for `verbalized` the format examples), computed once by `prepare()`:

* `logprob`: items are scored `batch_size` at a time in ONE forward pass over a packed
  sequence: each item's tokens and its option codes' tokens end to end after the cached
  prefix, with a mask that lets every token see only what it would see in the item's own
  prompt (the layout: `packing.packed_layout`). Logits are computed only where they are read.
  The result equals scoring each item alone (tests check to 1e-5, and against a naive
  full-sequence computation to 1e-4).
* `verbalized`: greedy generation that stops as soon as the `{...}` mapping is closed
  (`stopping.MappingClosed`), bounded by `max_new_tokens`, then parsed like an API answer.
  With `batch_generation` (the default off the CPU) `batch_size` items are generated at once
  (`packing.gap_rows`), sharing one copy of the prefix cache; each row stops on its own.
* `sample`: `samples` short answers per item at `sample_temperature`, read as option codes
  (`sampling`); each prompt is computed once and all answers of up to `batch_size` items
  (at most 256 answers) are sampled together, as branches of their items' rows (`hf_sampling`).

`ask(batch)` scores the items it is given. `probe()` keeps the one-item-in, one-result-out
contract through `batching.BatchQueue`: the first probe of a batch asks it, the next ones are
served from memory, in the order `prepare()` saw the requests (which items go together:
`batching.pack`). Attention implementations that take no custom mask (flash-attention) ask
items one at a time. Loading models: `hf_loading`.
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import replace

import torch
from transformers import DynamicCache, StoppingCriteriaList

from utils.core.parsing import parse_distribution
from utils.core.records import ProbeRequest, ProbeResult, SurveyItem
from utils.probing.batching import BatchQueue, pack
from utils.probing.backends.hf.branches import items_per_batch, sample_items
from utils.probing.methods.logprob import distribution_text, ends_answer_flags, logprob_record, normalize_log_scores
from utils.probing.backends.hf.packing import (
    additive_mask,
    code_scores,
    ends_answer_mask,
    gap_rows,
    packed_layout,
    shared_prefix_len,
)
from utils.probing.methods.sample import MAX_ANSWER_TOKENS, sample_result
from utils.probing.backends.hf.stopping import MappingClosed

log = logging.getLogger(__name__)
# Attention implementations that take a custom 4D float mask; others score items one by one.
PACKABLE_ATTENTION = ("sdpa", "eager")


class HFProber:
    """`batch_size`: items per forward pass (logprob) or per generate call (verbalized, when
    `batch_generation`); 1 asks each item alone. Batches follow the order `prepare()` saw; re-asks of unparsed
    answers are batched too (they sample, so only the first ask must match a lone run)."""

    PACK_TOKENS = 512  # a logprob pass packs items up to this many tokens (one longer item runs alone)

    def __init__(self, model, tokenizer, method: str, *, max_new_tokens: int = 256,
                 retry_temperature: float = 0.7, prefix_cache: bool = True, batch_size: int = 8,
                 samples: int = 40, sample_temperature: float = 1.0, temperature: float = 0.0,
                 sample_seed: int = 0, reader: Callable[[SurveyItem, str, str], ProbeResult] | None = None):
        """`reader` (the paper's release protocol: `ReleaseProtocol.result`) asks and reads as the
        release does: its chat-template text tokenized with the tokenizer's special tokens added,
        generation on to `max_new_tokens` or the end token (no stop at the closed mapping), and
        the decoded text read by `reader` in place of `parse_distribution`."""
        self.model, self.tokenizer, self.method, self.reader = model, tokenizer, method, reader
        self.samples, self.sample_temperature = max(1, samples), sample_temperature  # method `sample`
        self.max_new_tokens, self.retry_temperature = max_new_tokens, retry_temperature
        self.temperature = temperature  # first ask of `verbalized`; 0 is greedy
        self.sample_seed = sample_seed
        self.use_prefix_cache, self.batch_size = prefix_cache, max(1, batch_size)
        self.device = next(model.parameters()).device
        self._prefix: list[int] = []
        self._prefix_cache: DynamicCache | None = None
        self._ends_answer: torch.Tensor | None = None
        self._ids: dict[ProbeRequest, list[int]] = {}  # token ids of the requests prepare() saw
        self._key_ids: dict[str, list[int]] = {}
        self._queue: BatchQueue[ProbeRequest, ProbeResult] = BatchQueue()  # which items go together
        # transformers renamed forward's `past_key_values` to `cache` (5.x); accept both.
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._keep_kw = "logits_to_keep" in params
        # Packing (logprob) needs a custom 4D mask and batching (verbalized) a padding gap
        # between prefix and item; other attention implementations ask items one by one.
        self._packable = getattr(model.config, "_attn_implementation", None) in PACKABLE_ATTENTION
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        # Verbalized batching is for accelerators. On the 2-core CPU it measured slower with the
        # bundled model (benchmarks/bench_local.py): an 8-row step costs ~3 one-row steps, and a
        # batch runs until its longest answer ends while most rows stop early.
        self.batch_generation = self.device.type != "cpu"
        self.skip_cudnn_attention = True  # see `_attention_kernels`

    # -- shared set-up --------------------------------------------------------------------
    def encode(self, request: ProbeRequest) -> list[int]:
        ids = self._ids.get(request)
        if ids is None:
            msgs = [{"role": m.role, "content": m.content} for m in request.messages]
            text = self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            ids = self.tokenizer(text, add_special_tokens=self.reader is not None)["input_ids"]
        return ids

    def prepare(self, requests: list[ProbeRequest]) -> None:
        """Tokenize the requests, remember their order for batching, and cache the longest
        token prefix they all share (if it is worth it)."""
        self._queue.reset(requests)
        with self._queue.lock:
            self._ids = {r: self.encode(r) for r in requests}
            self._prefix, self._prefix_cache = [], None
            n = shared_prefix_len(list(self._ids.values())) if self.use_prefix_cache else 0
            if not n:
                return
            self._prefix = next(iter(self._ids.values()))[:n]
            cache = DynamicCache()
            with torch.inference_mode(), self._attention_kernels():
                self.model(torch.tensor([self._prefix], device=self.device), use_cache=True,
                           **{self._cache_kw: cache})
            self._prefix_cache = cache
            log.info("cached a shared prompt prefix of %d tokens", n)

    def _attention_kernels(self):
        """Scaled-dot-product attention without cuDNN's kernel on CUDA (`skip_cudnn_attention`):
        it plans anew for every sequence length, and our lengths change with every packed batch
        and every generated token. Measured on an H200 in bfloat16 (random-weight SmolLM2-360M
        shape, 144 logprob items, first run): 8.5 s with cuDNN attention allowed, 1.1 s without
        it; padding the packed length to multiples of 64 instead gave 2.1 s. Elsewhere, torch's
        own choice."""
        if not (self.skip_cudnn_attention and self.device.type == "cuda"):
            return contextlib.nullcontext()
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])

    def _cached_prefix_len(self, ids: list[int]) -> int:
        n = len(self._prefix)
        return n if self._prefix_cache is not None and ids[:n] == self._prefix and len(ids) > n else 0

    def probe(self, request: ProbeRequest, attempt: int = 1) -> ProbeResult:
        """The result of one ask: from the batch an earlier probe asked, or from a new batch
        of this request and the next ones not asked yet."""
        return self._queue.fetch(request, attempt, self.ask, self._choose)

    def _choose(self, request: ProbeRequest, waiting) -> list[ProbeRequest]:
        """This request and the next ones not asked yet, within `batch_size` and (logprob)
        `PACK_TOKENS`, which bounds the mask and attention memory."""
        if self.method == "sample":  # N rows per item: see utils.probing.backends.hf.branches.py
            return pack(request, waiting, self._own_len,
                        items_per_batch(self.batch_size, self.samples) if self._packable else 1)
        batched = self._packable and (self.method == "logprob" or self.batch_generation)
        return pack(request, waiting, self._own_len, self.batch_size if batched else 1,
                    self.PACK_TOKENS if self.method == "logprob" else float("inf"))

    def ask(self, batch: list[ProbeRequest], attempt: int = 1) -> list[ProbeResult]:
        """Score these items, in one pass where the attention implementation allows it."""
        start = time.monotonic()
        with torch.inference_mode(), self._attention_kernels():
            if self.method == "logprob":
                scored = self._score(batch) if self._packable else [self._score_unpacked(batch[0])]
                results = [self._logprob_result(r, s) for r, s in zip(batch, scored)]
            elif self.method == "sample":
                results = self._sample(batch)
            else:
                results = self._generate(batch, attempt)
        share = (time.monotonic() - start) / len(batch)  # each item's part of the batch
        return [replace(res, latency_s=share, prompt_tokens=len(self.encode(r))) for r, res in zip(batch, results)]

    def _own_len(self, request: ProbeRequest) -> int:
        """Tokens this item adds to a batch: its own (past the cached prefix) and its codes'."""
        ids = self.encode(request)
        codes = sum(map(len, self._codes(request.item.choice_keys))) if self.method == "logprob" else 0
        return len(ids) - self._cached_prefix_len(ids) + codes

    # -- logprob ------------------------------------------------------------------------
    def _logprob_result(self, request: ProbeRequest, scores: dict[str, float]) -> ProbeResult:
        dist = normalize_log_scores(scores, request.item.choice_keys)
        return ProbeResult(request.item.id, "ok", dist, response=distribution_text(dist),
                           raw_text=logprob_record("", scores))

    def _ends_answer_mask(self) -> torch.Tensor:
        """Boolean mask over the vocabulary: tokens that cannot continue an option code."""
        if self._ends_answer is None:
            n_out = self.model.get_output_embeddings().weight.shape[0]
            self._ends_answer = ends_answer_mask(ends_answer_flags(self.tokenizer), n_out).to(self.device)
        return self._ends_answer

    def _codes(self, keys) -> list[list[int]]:
        for k in keys:
            if k not in self._key_ids:
                self._key_ids[k] = self.tokenizer(k, add_special_tokens=False)["input_ids"]
        return [self._key_ids[k] for k in keys]

    def _score(self, batch: list[ProbeRequest]) -> list[dict[str, float]]:
        """Log-score of each option code of each request, from one packed forward pass
        (without a usable prefix cache each item is packed whole)."""
        seqs = [self.encode(r) for r in batch]
        p = min(self._cached_prefix_len(s) for s in seqs)
        codes = [self._codes(r.item.choice_keys) for r in batch]
        lay = packed_layout(list(zip(seqs, codes)), p)
        tokens, read_at = torch.tensor([lay.tokens], device=self.device), lay.read_at
        kwargs = {"attention_mask": additive_mask(lay.sees, self.model.dtype).to(self.device),
                  "position_ids": torch.tensor([lay.positions], device=self.device)}
        if p:
            kwargs.update(use_cache=True, **{self._cache_kw: copy.deepcopy(self._prefix_cache)})
        else:
            kwargs["use_cache"] = False
        if self._keep_kw:
            kwargs["logits_to_keep"] = torch.tensor(read_at, device=self.device)
            logits = self.model(tokens, **kwargs).logits[0]
        else:
            logits = self.model(tokens, **kwargs).logits[0, read_at]
        logp = torch.log_softmax(logits.float(), dim=-1)
        ends = self._ends_answer_mask()
        stop = torch.logsumexp(logp[:, ends], dim=-1).tolist()  # log P(answer ends here)
        return code_scores(lay, codes, [r.item.choice_keys for r in batch], logp.cpu(), stop)

    def _score_unpacked(self, request: ProbeRequest) -> dict[str, float]:
        """One item, for attention implementations without custom masks (flash-attention):
        its tokens over the prefix cache, then all codes as a right-padded batch."""
        keys, ids = request.item.choice_keys, self.encode(request)
        p = self._cached_prefix_len(ids)
        cache = copy.deepcopy(self._prefix_cache) if p else DynamicCache()
        out = self.model(torch.tensor([ids[p:]], device=self.device), use_cache=True, **{self._cache_kw: cache})
        first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
        key_ids = self._codes(keys)
        # Right padding needs no mask: causal attention keeps every read position blind to
        # the pads after it.
        width = max(len(k) for k in key_ids)
        batch = torch.tensor([k + [self._pad or 0] * (width - len(k)) for k in key_ids], device=self.device)
        cache.batch_repeat_interleave(len(keys))
        out = self.model(batch, use_cache=True, **{self._cache_kw: cache})
        steps = torch.log_softmax(out.logits.float(), dim=-1)  # [code, j]: after the code's first j+1 tokens
        ends = self._ends_answer_mask()
        scores: dict[str, float] = {}
        for b, (key, toks) in enumerate(zip(keys, key_ids)):
            total = first[toks[0]].item()
            for j in range(1, len(toks)):
                total += steps[b, j - 1, toks[j]].item()
            scores[key] = total + torch.logsumexp(steps[b, len(toks) - 1][ends], dim=0).item()
        return scores

    def reseed(self, seed: int) -> None:
        """Draw from `seed` from now on (`--repeats`): the `sample` generator and torch's own, which
        `generate` samples `verbalized` answers from at a temperature above 0."""
        self.sample_seed, self._generator = seed, None
        torch.manual_seed(seed)

    # -- sample -------------------------------------------------------------------------
    def _sample_generator(self) -> torch.Generator:
        """One seeded generator for the prober's lifetime, so the same run draws the same answers
        (seed 0, as the analysis's bootstrap; `sample_seed` changes it)."""
        if getattr(self, "_generator", None) is None:
            self._generator = torch.Generator(device=self.device).manual_seed(self.sample_seed)
        return self._generator

    def _sample(self, batch: list[ProbeRequest]) -> list[ProbeResult]:
        """`samples` short answers per item, all items of `batch` in one sampling loop."""
        seqs = [self.encode(r) for r in batch]
        p = min(self._cached_prefix_len(s) for s in seqs)
        sampled = sample_items(self.model, self.tokenizer, seqs, [r.item.choice_keys for r in batch],
                               samples=self.samples, temperature=self.sample_temperature,
                               max_new_tokens=min(self.max_new_tokens, MAX_ANSWER_TOKENS), prefix_len=p,
                               prefix_cache=self._prefix_cache if p else None, pad_id=self._pad,
                               cache_kw=self._cache_kw, generator=self._sample_generator())
        return [sample_result(r.item.id, s.answers, r.item.choice_keys, completion_tokens=s.completion_tokens)
                for r, s in zip(batch, sampled)]

    # -- verbalized ---------------------------------------------------------------------
    def _generate(self, batch: list[ProbeRequest], attempt: int) -> list[ProbeResult]:
        """Generate for every request of `batch` at once, over one copy of the shared prefix
        cache (rows `prefix + masked gap + item`: `gap_rows`; generate derives positions from the mask)."""
        seqs = [self.encode(r) for r in batch]
        p = min(self._cached_prefix_len(s) for s in seqs)
        rows, mask, width = gap_rows(seqs, p, self._pad)
        input_ids = torch.tensor(rows, device=self.device)
        eos = self.model.generation_config.eos_token_id
        stop = MappingClosed(self.tokenizer, p + width, eos if isinstance(eos, (list, tuple)) else [eos] * (eos is not None),
                             mapping=self.reader is None)
        # The first ask at --temperature (greedy at 0); re-asks sample, as a greedy re-ask would repeat itself.
        temperature = self.retry_temperature if attempt > 1 else self.temperature
        sample = temperature > 0
        kwargs = {"max_new_tokens": self.max_new_tokens, "do_sample": sample,
                  "stopping_criteria": StoppingCriteriaList([stop]), "pad_token_id": self._pad}
        if sample:
            kwargs.update(temperature=temperature, top_p=1.0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if p:
            cache = copy.deepcopy(self._prefix_cache)
            if len(batch) > 1:
                cache.batch_repeat_interleave(len(batch))
            kwargs[self._cache_kw] = cache
        out = self.model.generate(input_ids, attention_mask=torch.tensor(mask, device=self.device), **kwargs)
        results = []
        for row, request in enumerate(batch):
            new = out[row, p + width:stop.ends.get(row, out.shape[1])]
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            if self.reader is not None:
                results.append(replace(self.reader(request.item, text, text), completion_tokens=int(new.numel())))
                continue
            parsed = parse_distribution(text, request.item.choice_keys)
            results.append(ProbeResult(request.item.id, "ok" if parsed.ok else "unparsed", parsed.distribution,
                                       response=text, raw_text=text, error="" if parsed.ok else parsed.status,
                                       completion_tokens=int(new.numel())))
        return results
