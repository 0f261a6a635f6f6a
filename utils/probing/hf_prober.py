"""Prober for local Hugging Face causal LMs (transformers), on CPU or GPU.

Both methods reuse the key/value cache of the token prefix every prompt shares (the
instruction, and for `verbalized` the format examples), computed once by `prepare()`:

* `logprob`: items are scored `batch_size` at a time in ONE forward pass over a packed
  sequence. Each item's own tokens and, after them, the tokens of each of its option codes
  are laid end to end after the cached prefix; a 4D attention mask and explicit position ids
  make every token see exactly what it would see in the item's own prompt:

      [prefix (cached)] | item A | A:"1" | A:"2" | A:"1","0" | item B | B:"1" | B:"2"
      A:"2" attends to: prefix, item A, itself     (not A:"1", not item B)

  Logits are computed only where they are read: the last item token (first code token) and
  each code token (the next code token, or a token that ends the answer; see
  `option_scoring`). The result equals scoring each item alone (tests check to 1e-5, and
  against a naive full-sequence computation to 1e-4).
* `verbalized`: greedy generation that stops as soon as the `{...}` mapping is closed,
  bounded by `max_new_tokens`, then parsed like an API answer. With `batch_generation` (the
  default off the CPU) `batch_size` items are generated at once: rows `prefix + pad gap +
  item` share one copy of the prefix cache, and each row stops on its own.

`probe()` keeps the one-item-in, one-result-out contract: the first probe of a batch asks it,
the next ones are served from memory, in the order `prepare()` saw the requests. Attention
implementations that take no custom mask (flash-attention) ask items one at a time.
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, StoppingCriteria, StoppingCriteriaList

from utils.core.errors import UserError
from utils.core.parsing import parse_distribution
from utils.core.records import ProbeRequest, ProbeResult
from utils.probing.option_scoring import continues_code, distribution_text, logprob_record, normalize_log_scores

log = logging.getLogger(__name__)
DTYPES = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Attention implementations that take a custom 4D float mask; others score items one by one.
PACKABLE_ATTENTION = ("sdpa", "eager")


def load_model(path: str | Path, *, gguf_file: str | None = None, device: str = "cpu",
               dtype: str = "auto", device_map: str | None = None):
    """Load tokenizer and model from a local folder or hub id (with `HF_HUB_OFFLINE` honoured)."""
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            str(path), dtype=DTYPES[dtype] if dtype != "auto" or not gguf_file else torch.float32,
            device_map=device_map, **kwargs)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load model {path}: {str(exc).splitlines()[0]}") from None
    if device_map is None:
        model.to(device)
    model.eval()
    return tokenizer, model


class _MappingClosed(StoppingCriteria):
    """Per row: stop once the new text holds a closed `{...}` after any reasoning, or its last
    token ends the text (`end_ids`). `ends[row]` is the row's length when it stopped, since
    generate pads a stopped row while the others go on."""

    def __init__(self, tokenizer, start: int, end_ids=()):
        self.tokenizer, self.start, self.end_ids = tokenizer, start, set(end_ids)
        self.ends: dict[int, int] = {}

    def __call__(self, input_ids, scores, **kwargs) -> torch.Tensor:
        for row in range(input_ids.shape[0]):
            if row not in self.ends and (int(input_ids[row, -1]) in self.end_ids
                                         or self._closed(input_ids[row, self.start:])):
                self.ends[row] = input_ids.shape[1]
        return torch.tensor([row in self.ends for row in range(input_ids.shape[0])], device=input_ids.device)

    def _closed(self, new_ids) -> bool:
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        tail = text.rsplit("</think>", 1)[-1]
        return "<think>" not in tail and "{" in tail and "}" in tail[tail.index("{"):]


class HFProber:
    """`batch_size`: items per forward pass (logprob) or per generate call (verbalized, when
    `batch_generation`); 1 asks each item alone. Batches follow the order `prepare()` saw; re-asks of unparsed
    answers are batched too (they sample, so only the first ask must match a lone run)."""

    PACK_TOKENS = 512  # a logprob pass packs items up to this many tokens (one longer item runs alone)

    def __init__(self, model, tokenizer, method: str, *, max_new_tokens: int = 256,
                 retry_temperature: float = 0.7, prefix_cache: bool = True, batch_size: int = 8):
        self.model, self.tokenizer, self.method = model, tokenizer, method
        self.max_new_tokens, self.retry_temperature = max_new_tokens, retry_temperature
        self.use_prefix_cache, self.batch_size = prefix_cache, max(1, batch_size)
        self.device = next(model.parameters()).device
        self._prefix: list[int] = []
        self._prefix_cache: DynamicCache | None = None
        self._ends_answer: torch.Tensor | None = None
        self._ids: dict[ProbeRequest, list[int]] = {}  # token ids of the requests prepare() saw
        self._key_ids: dict[str, list[int]] = {}
        self._upcoming: dict[int, dict[ProbeRequest, None]] = {}  # per attempt: not asked yet, in order
        self._ready: dict[tuple[ProbeRequest, int], ProbeResult] = {}  # asked in a batch, not yet fetched
        self._lock = threading.Lock()  # one batch at a time; the memory above is shared
        # transformers renamed forward's `past_key_values` to `cache` (5.x); accept both.
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._keep_kw = "logits_to_keep" in params
        # Packing (logprob) needs a custom 4D mask and batching (verbalized) a padding gap
        # between prefix and item; other attention implementations ask items one by one.
        self._packable = getattr(model.config, "_attn_implementation", None) in PACKABLE_ATTENTION
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        # Verbalized batching is for accelerators, where a step for 8 rows costs about what one
        # row's does. On the 2-core CPU it measured slower with the bundled model
        # (benchmarks/bench_local.py): an 8-row step costs ~3 one-row steps, and a batch runs
        # until its longest answer ends while most rows stop early.
        self.batch_generation = self.device.type != "cpu"
        self.skip_cudnn_attention = True  # see `_attention_kernels`

    # -- shared set-up --------------------------------------------------------------------
    def encode(self, request: ProbeRequest) -> list[int]:
        ids = self._ids.get(request)
        if ids is None:
            msgs = [{"role": m.role, "content": m.content} for m in request.messages]
            text = self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def prepare(self, requests: list[ProbeRequest]) -> None:
        """Tokenize the requests, remember their order for batching, and cache the longest
        token prefix they all share (if it is worth it)."""
        with self._lock:
            self._ids = {r: self.encode(r) for r in requests}
            self._upcoming, self._ready = {1: dict.fromkeys(requests)}, {}
            self._prefix, self._prefix_cache = [], None
            if not self.use_prefix_cache or len(requests) < 2:
                return
            seqs = list(self._ids.values())
            n = min(len(s) for s in seqs) - 1
            for s in seqs[1:]:
                n = next((i for i in range(n) if s[i] != seqs[0][i]), n)
            if n < 8:
                return
            self._prefix = seqs[0][:n]
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
        with self._lock:
            result = self._ready.pop((request, attempt), None)
            if result is None:
                result = self._ask_batch(request, attempt)
        return result

    def _ask_batch(self, request: ProbeRequest, attempt: int) -> ProbeResult:
        waiting = self._upcoming.setdefault(attempt, {})
        waiting.pop(request, None)
        batch, size = [request], self._own_len(request)
        batched = self._packable and (self.method == "logprob" or self.batch_generation)
        while batched and len(batch) < self.batch_size and waiting:
            nxt = next(iter(waiting))  # the oldest not asked yet
            size += self._own_len(nxt)
            if self.method == "logprob" and size > self.PACK_TOKENS:  # bounds mask and attention memory
                break
            del waiting[nxt]
            batch.append(nxt)
        start = time.monotonic()
        with torch.inference_mode(), self._attention_kernels():
            if self.method == "logprob":
                scored = self._score(batch) if self._packable else [self._score_unpacked(batch[0])]
                results = [self._logprob_result(r, s) for r, s in zip(batch, scored)]
            else:
                results = self._generate(batch, attempt)
        share = (time.monotonic() - start) / len(batch)  # each item's part of the batch
        results = [replace(res, latency_s=share, prompt_tokens=len(self.encode(r))) for r, res in zip(batch, results)]
        for r, res in zip(batch, results):
            if res.status == "unparsed":  # the runner will ask again: batch those re-asks too
                self._upcoming.setdefault(attempt + 1, {})[r] = None
        self._ready.update(((r, attempt), res) for r, res in zip(batch[1:], results[1:]))
        return results[0]

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
            vocab = len(self.tokenizer)
            texts = self.tokenizer.convert_ids_to_tokens(list(range(vocab)))
            decoded = [self.tokenizer.convert_tokens_to_string([t]) if t is not None else "" for t in texts]
            mask = torch.tensor([not continues_code(d) for d in decoded], dtype=torch.bool)
            n_out = self.model.get_output_embeddings().weight.shape[0]
            if n_out > vocab:  # padded embedding rows never end an answer
                mask = torch.cat([mask, torch.zeros(n_out - vocab, dtype=torch.bool)])
            self._ends_answer = mask[:n_out].to(self.device)
        return self._ends_answer

    def _codes(self, keys) -> list[list[int]]:
        for k in keys:
            if k not in self._key_ids:
                self._key_ids[k] = self.tokenizer(k, add_special_tokens=False)["input_ids"]
        return [self._key_ids[k] for k in keys]

    def _score(self, batch: list[ProbeRequest]) -> list[dict[str, float]]:
        """Log-score of each option code of each request, from one packed forward pass.

        Without a usable prefix cache each item is packed whole.
        """
        seqs = [self.encode(r) for r in batch]
        p = min(self._cached_prefix_len(s) for s in seqs)
        tokens, pos, owner, group, read_at = [], [], [], [], []
        layout = []  # per item: (last item position, [(code tokens, positions of its tokens)])
        for i, (req, ids) in enumerate(zip(batch, seqs)):
            own = ids[p:]
            tokens += own
            pos += range(p, len(ids))
            owner += [i] * len(own)
            group += [-1] * len(own)
            last = len(tokens) - 1
            codes = []
            for j, code in enumerate(self._codes(req.item.choice_keys)):
                at = list(range(len(tokens), len(tokens) + len(code)))
                tokens += code
                pos += range(len(ids), len(ids) + len(code))
                owner += [i] * len(code)
                group += [j] * len(code)
                codes.append((code, at))
            read_at += [last] + [a for _, at in codes for a in at]
            layout.append((last, codes))
        n = len(tokens)
        own_t = torch.tensor(owner)
        grp_t = torch.tensor(group)
        idx = torch.arange(n)
        # token a sees token b: same item, b not after a, and b is an item token or in a's own code
        sees = ((own_t[:, None] == own_t[None, :]) & (idx[None, :] <= idx[:, None])
                & ((grp_t[None, :] == -1) | (grp_t[None, :] == grp_t[:, None])))
        if p:
            sees = torch.cat([torch.ones(n, p, dtype=torch.bool), sees], dim=1)
        dtype = self.model.dtype
        mask = torch.zeros(sees.shape, dtype=dtype).masked_fill_(~sees, torch.finfo(dtype).min)
        kwargs = {"attention_mask": mask[None, None].to(self.device),
                  "position_ids": torch.tensor([pos], device=self.device)}
        if p:
            kwargs.update(use_cache=True, **{self._cache_kw: copy.deepcopy(self._prefix_cache)})
        else:
            kwargs["use_cache"] = False
        rows = {a: r for r, a in enumerate(read_at)}
        if self._keep_kw:
            kwargs["logits_to_keep"] = torch.tensor(read_at, device=self.device)
            logits = self.model(torch.tensor([tokens], device=self.device), **kwargs).logits[0]
        else:
            logits = self.model(torch.tensor([tokens], device=self.device), **kwargs).logits[0, read_at]
        logp = torch.log_softmax(logits.float(), dim=-1)
        ends = self._ends_answer_mask()
        stop = torch.logsumexp(logp[:, ends], dim=-1).tolist()  # log P(answer ends here)
        logp_rows = logp.cpu()
        out = []
        for req, (last, codes) in zip(batch, layout):
            scores = {}
            for key, (code, at) in zip(req.item.choice_keys, codes):
                before = [last] + at[:-1]  # the position whose logits predict each code token
                total = sum(logp_rows[rows[b], t].item() for b, t in zip(before, code))
                scores[key] = total + stop[rows[at[-1]]]
            out.append(scores)
        return out

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

    # -- verbalized ---------------------------------------------------------------------
    def _generate(self, batch: list[ProbeRequest], attempt: int) -> list[ProbeResult]:
        """Generate for every request of `batch` at once, over the shared prefix cache.

        Rows are `prefix + gap + item`: the gap of pad tokens (masked out, and skipped by the
        position ids generate derives from the mask) evens out the items' lengths, so every
        row starts with the same prefix and one copy of its cache serves all rows.
        """
        seqs = [self.encode(r) for r in batch]
        p = min(self._cached_prefix_len(s) for s in seqs)
        width = max(len(s) for s in seqs) - p
        rows = [s[:p] + [self._pad] * (width + p - len(s)) + s[p:] for s in seqs]
        mask = [[1] * p + [0] * (width + p - len(s)) + [1] * (len(s) - p) for s in seqs]
        input_ids = torch.tensor(rows, device=self.device)
        eos = self.model.generation_config.eos_token_id
        stop = _MappingClosed(self.tokenizer, p + width, eos if isinstance(eos, (list, tuple)) else
                              [eos] if eos is not None else [])
        sample = attempt > 1  # greedy first; a greedy re-ask would repeat itself
        kwargs = {"max_new_tokens": self.max_new_tokens, "do_sample": sample,
                  "stopping_criteria": StoppingCriteriaList([stop]), "pad_token_id": self._pad}
        if sample:
            kwargs.update(temperature=self.retry_temperature, top_p=1.0)
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
            parsed = parse_distribution(text, request.item.choice_keys)
            results.append(ProbeResult(request.item.id, "ok" if parsed.ok else "unparsed", parsed.distribution,
                                       response=text, raw_text=text, error="" if parsed.ok else parsed.status,
                                       completion_tokens=int(new.numel())))
        return results
