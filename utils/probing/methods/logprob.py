"""Option probabilities from next-token log-probabilities, shared by both probers.

The logprob method reads "which option would a respondent pick?" as the model's probability
of writing each option code as its whole answer. Codes can span several tokens ("10" is
"1" + "0" in many tokenizers) and one code can be a prefix of another ("1" and "10"), so
the probability of a code is the probability of its tokens *and then* of stopping, i.e. of a
next token that cannot continue a code:

    P("1" as the answer) = P("1") * P(next token is not a letter or digit | "1")
    P("10")              = P("1") * P("0" | "1") * P(next is not a letter or digit | "10")

The two events are disjoint, so after renormalizing over the item's codes they form a proper
distribution.
"""
from __future__ import annotations

import json
import math
from typing import Mapping, Sequence


def continues_code(token_text: str) -> bool:
    """True when a token would extend a code (`"0"` after `"1"`), False when it ends it."""
    return bool(token_text) and token_text[0].isalnum()


def normalize_log_scores(log_scores: Mapping[str, float], keys: Sequence[str]) -> dict[str, float]:
    """Softmax over the item's codes: `{"1": -0.1, "2": -2.4}` -> `{"1": 0.909, "2": 0.091}`."""
    finite = [log_scores[k] for k in keys if math.isfinite(log_scores.get(k, -math.inf))]
    if not finite:
        raise ValueError("no option code received any probability")
    top = max(finite)
    weights = {k: math.exp(log_scores[k] - top) if math.isfinite(log_scores.get(k, -math.inf)) else 0.0
               for k in keys}
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def scores_from_top_logprobs(positions: Sequence[Mapping[str, float]], generated: Sequence[str],
                             keys: Sequence[str]) -> dict[str, float]:
    """Log-scores of codes from an API's `top_logprobs` along the generated path.

    `positions[i]` maps token text -> logprob at step i; `generated[i]` is the token taken.
    A code written as one token is scored at step 0. When the model wrote a code that is a
    prefix of others ("1" before "0"), step 1 splits that mass between stopping and
    continuing. Codes whose tokens the server did not list get -inf (probability 0).
    """
    first = {}
    for tok, lp in positions[0].items():
        k = tok.strip()
        if k in keys:
            first[k] = _logaddexp(first.get(k, -math.inf), lp)
    scores = {k: first.get(k, -math.inf) for k in keys}
    if len(positions) > 1 and generated:
        head = generated[0].strip()
        if head in keys and any(k != head and k.startswith(head) for k in keys):
            nxt = positions[1]
            cont = {t: lp for t, lp in nxt.items() if continues_code(t)}
            p_stop = max(0.0, 1.0 - sum(math.exp(lp) for lp in cont.values()))
            base = scores[head]
            scores[head] = base + math.log(p_stop) if p_stop > 0 else -math.inf
            for t, lp in cont.items():
                k = head + t.strip()
                if k in keys:
                    scores[k] = _logaddexp(scores[k], base + lp)
    return scores


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def distribution_text(dist: Mapping[str, float]) -> str:
    """`{"1": 0.6123, "2": 0.3877}` -> `{'1': '61.23%', '2': '38.77%'}`: the verbalized form."""
    return "{" + ", ".join(f"'{k}': '{100 * v:.2f}%'" for k, v in dist.items()) + "}"


def logprob_record(content: str, scores: Mapping[str, float]) -> str:
    """What a logprob answer keeps as raw text: the generated text and each code's log-score."""
    return json.dumps({"content": content,
                       "option_logprobs": {k: round(v, 6) for k, v in scores.items() if math.isfinite(v)}})


def ends_answer_flags(tokenizer) -> list[bool]:
    """Per token id of `tokenizer`'s vocabulary: True when the token cannot continue an option
    code (it ends the answer), e.g. `" "`, `"."`, `"\\n"`; False for `"0"`, `"a"`."""
    texts = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return [not continues_code(tokenizer.convert_tokens_to_string([t]) if t is not None else "") for t in texts]
