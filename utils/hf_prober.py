"""Prober for local Hugging Face causal LMs (transformers), on CPU or GPU.

Both methods reuse the key/value cache of the part every prompt shares (the instruction and
format examples, most of each prompt), computed once by `prepare()`:

* `logprob`: one forward pass over the item's own tokens, then for each option code the
  probability of its tokens followed by a token that ends the answer (see `option_scoring`),
  renormalized over the item's codes.
* `verbalized`: greedy generation that stops as soon as a `{...}` mapping is closed, bounded by
  `max_new_tokens`, then parsed like an API answer.
"""
from __future__ import annotations

import copy
import inspect
import logging
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, StoppingCriteria, StoppingCriteriaList

from utils.errors import UserError
from utils.option_scoring import continues_code, distribution_text, logprob_record, normalize_log_scores
from utils.parsing import parse_distribution
from utils.records import ProbeRequest, ProbeResult

log = logging.getLogger(__name__)
DTYPES = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


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
    """Stop greedy generation once the new text holds a closed `{...}` after any reasoning."""

    def __init__(self, tokenizer, start: int):
        self.tokenizer, self.start = tokenizer, start

    def __call__(self, input_ids, scores, **kwargs) -> bool:
        text = self.tokenizer.decode(input_ids[0, self.start:], skip_special_tokens=True)
        tail = text.rsplit("</think>", 1)[-1]
        return "<think>" not in tail and "{" in tail and "}" in tail[tail.index("{"):]


class HFProber:
    def __init__(self, model, tokenizer, method: str, *, max_new_tokens: int = 256,
                 retry_temperature: float = 0.7, prefix_cache: bool = True):
        self.model, self.tokenizer, self.method = model, tokenizer, method
        self.max_new_tokens, self.retry_temperature = max_new_tokens, retry_temperature
        self.use_prefix_cache = prefix_cache
        self.device = next(model.parameters()).device
        self._prefix: list[int] = []
        self._prefix_cache: DynamicCache | None = None
        self._ends_answer: torch.Tensor | None = None
        # transformers renamed forward's `past_key_values` to `cache` (5.x); accept both.
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    # -- shared set-up --------------------------------------------------------------------
    def encode(self, request: ProbeRequest) -> list[int]:
        msgs = [{"role": m.role, "content": m.content} for m in request.messages]
        text = self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def prepare(self, requests: list[ProbeRequest]) -> None:
        """Cache the longest token prefix shared by all requests (if it is worth it)."""
        if not self.use_prefix_cache or len(requests) < 2:
            return
        seqs = [self.encode(r) for r in requests]
        n = min(len(s) for s in seqs) - 1
        for s in seqs[1:]:
            n = next((i for i in range(n) if s[i] != seqs[0][i]), n)
        if n < 8:
            return
        self._prefix = seqs[0][:n]
        cache = DynamicCache()
        with torch.no_grad():
            self.model(torch.tensor([self._prefix], device=self.device), use_cache=True, **{self._cache_kw: cache})
        self._prefix_cache = cache
        log.info("cached a shared prompt prefix of %d tokens", n)

    def _cached_prefix_len(self, ids: list[int]) -> int:
        n = len(self._prefix)
        return n if self._prefix_cache is not None and ids[:n] == self._prefix and len(ids) > n else 0

    def probe(self, request: ProbeRequest, attempt: int = 1) -> ProbeResult:
        start = time.monotonic()
        ids = self.encode(request)
        with torch.no_grad():
            if self.method == "logprob":
                result = self._probe_logprob(request, ids)
            else:
                result = self._probe_verbalized(request, ids, attempt)
        return ProbeResult(**{**result.__dict__, "latency_s": time.monotonic() - start, "prompt_tokens": len(ids)})

    # -- logprob ------------------------------------------------------------------------
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

    def _forward(self, ids: list[int], cache: DynamicCache) -> torch.Tensor:
        out = self.model(torch.tensor([ids], device=self.device), use_cache=True, **{self._cache_kw: cache})
        return torch.log_softmax(out.logits[0].float(), dim=-1)

    def _probe_logprob(self, request: ProbeRequest, ids: list[int]) -> ProbeResult:
        keys = request.item.choice_keys
        p = self._cached_prefix_len(ids)
        cache = copy.deepcopy(self._prefix_cache) if p else DynamicCache()
        first = self._forward(ids[p:], cache)[-1]  # distribution of the answer's first token
        key_ids = [self.tokenizer(k, add_special_tokens=False)["input_ids"] for k in keys]
        # All codes in one batched pass over the item's cache. Right padding needs no mask:
        # causal attention keeps every read position blind to the pads after it.
        width = max(len(k) for k in key_ids)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        batch = torch.tensor([k + [pad] * (width - len(k)) for k in key_ids], device=self.device)
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
        dist = normalize_log_scores(scores, keys)
        return ProbeResult(request.item.id, "ok", dist, response=distribution_text(dist),
                           raw_text=logprob_record("", scores))

    # -- verbalized ---------------------------------------------------------------------
    def _probe_verbalized(self, request: ProbeRequest, ids: list[int], attempt: int) -> ProbeResult:
        p = self._cached_prefix_len(ids)
        input_ids = torch.tensor([ids], device=self.device)
        sample = attempt > 1  # greedy first; a greedy re-ask would repeat itself
        kwargs = dict(max_new_tokens=self.max_new_tokens, do_sample=sample,
                      stopping_criteria=StoppingCriteriaList([_MappingClosed(self.tokenizer, len(ids))]),
                      pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
        if sample:
            kwargs.update(temperature=self.retry_temperature, top_p=1.0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if p:
            kwargs[self._cache_kw] = copy.deepcopy(self._prefix_cache)
        out = self.model.generate(input_ids, attention_mask=torch.ones_like(input_ids), **kwargs)
        new = out[0, len(ids):]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        parsed = parse_distribution(text, request.item.choice_keys)
        return ProbeResult(request.item.id, "ok" if parsed.ok else "unparsed", parsed.distribution,
                           response=text, raw_text=text, error="" if parsed.ok else parsed.status,
                           completion_tokens=int(new.numel()))
