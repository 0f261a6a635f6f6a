"""What goes to a chat-completions server and what is read from its reply, as pure functions
(lm-evaluation-harness's split), so tests check them against fixed dicts.

    payload(request, "gpt-4o", Generate(1, 0.0, 512))
    -> {"model": "gpt-4o", "messages": [...], "temperature": 0.0, "max_tokens": 512}
    payload(request, "gpt-4o", Score(0.0, 512))       adds logprobs=True, top_logprobs=20, max_tokens=3
    payload(request, "gpt-4o", Generate(40, 1.0, 16))  adds n=40 (one prompt, 40 answers)
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

from utils.core.secrets import redact
from utils.probing.backends import Completion, Failure, Generate, Score, Scores, Usage, continues_code

TOP_LOGPROBS = 20
SCORE_TOKENS = 3  # a code and what ends it: enough to read the option log-probabilities


def payload(request, model: str, how: Generate | Score) -> dict:
    """`max_tokens=None` sends no limit (the server's own, as the paper's release asks)."""
    out = {"model": model, "messages": [{"role": m.role, "content": m.content} for m in request.messages],
           "temperature": how.temperature}
    if how.max_tokens is not None:
        out["max_tokens"] = how.max_tokens
    if isinstance(how, Score):
        out.update(logprobs=True, top_logprobs=TOP_LOGPROBS,
                   max_tokens=min(how.max_tokens or SCORE_TOKENS, SCORE_TOKENS))
    elif how.n > 1:
        out["n"] = how.n
    return out


def body_problem(body) -> str:
    """Why `body` is not a chat completion we can read, or "" if it is."""
    if not isinstance(body, dict):
        return f"reply is a JSON {type(body).__name__}, not a chat completion object"
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        return "reply has no choices"
    if not isinstance(choices[0], dict) or not isinstance(choices[0].get("message"), dict):
        return "reply's first choice has no message"
    return ""


def raw(body) -> str:
    """A reply as a row keeps it when it cannot be read."""
    return json.dumps(body, default=str)[:10_000]


def text(value) -> str:
    """A message field as text: servers send null, and the odd one a number or a list."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def count(value) -> int:
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def usage(bodies: list[dict], latency_s: float) -> Usage:
    used = [b["usage"] for b in bodies if isinstance(b.get("usage"), dict)]
    return Usage(latency_s, sum(count(u.get("prompt_tokens")) for u in used),
                 sum(count(u.get("completion_tokens")) for u in used))


def completion(bodies: list[dict], n: int, latency_s: float) -> Completion:
    """At most `n` answers from one or more replies, with the first choice's reasoning and refusal."""
    messages = [(c.get("message") or {}) if isinstance(c, dict) else {} for b in bodies for c in b["choices"]]
    first = messages[0]
    return Completion(tuple(None if m.get("content") is None else text(m["content"]) for m in messages[:n]),
                      usage(bodies, latency_s), reasoning=text(first.get("reasoning_content")),
                      refusal=text(first.get("refusal")))


def scores(body: dict, keys: Sequence[str], latency_s: float) -> Scores | Failure:
    """The option log-scores along the path the server wrote (`scores_from_top_logprobs`)."""
    msg = body["choices"][0]["message"]
    content, reasoning, used = text(msg.get("content")), text(msg.get("reasoning_content")), usage([body], latency_s)
    if not content and msg.get("refusal"):
        return Failure("refusal", f"[refusal] {text(msg['refusal'])}", status="unparsed", usage=used)
    steps = ((body["choices"][0].get("logprobs") or {}).get("content")) or []
    if not steps:
        return Failure("server sent no logprobs; use --method verbalized with this server",
                       f"<think>{reasoning}</think>{content}" if reasoning else content, content, "unparsed", used)
    positions = [{t["token"]: t["logprob"] for t in (s.get("top_logprobs") or [])} or {s["token"]: s["logprob"]}
                 for s in steps]
    return Scores(scores_from_top_logprobs(positions, [s["token"] for s in steps], keys), used, content, positions[0])


def answer(bodies: list, keys: Sequence[str], how: Generate | Score,
           latency_s: float = 0.0) -> Completion | Scores | Failure:
    """What the replies to one request hold (a batch's output line is one reply): a body that is no
    chat completion, or log-probabilities that cannot be read, is its `Failure`."""
    for body in bodies:
        if body_problem(body):
            return Failure(body_problem(body), redact(raw(body)), usage=Usage(latency_s))
    if isinstance(how, Generate):
        return completion(bodies, how.n, latency_s)
    try:
        return scores(bodies[0], keys, latency_s)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:  # odd logprobs etc.
        return Failure(f"malformed reply ({type(exc).__name__}: {exc})", raw(bodies[0]), usage=Usage(latency_s))


def scores_from_top_logprobs(positions: Sequence[Mapping[str, float]], generated: Sequence[str],
                             keys: Sequence[str]) -> dict[str, float]:
    """`positions[i]`: token text -> logprob at step i of the generated path; `generated[i]`: the token
    taken. Codes are scored at step 0, but a written code that prefixes others ("1" before "10") has
    its mass split at step 1 between stopping and continuing. Codes the server did not list get -inf."""
    first = {}
    for tok, lp in positions[0].items():
        k = tok.strip()
        if k in keys:
            first[k] = _logaddexp(first.get(k, -math.inf), lp)
    out = {k: first.get(k, -math.inf) for k in keys}
    if len(positions) > 1 and generated:
        head = generated[0].strip()
        if head in keys and any(k != head and k.startswith(head) for k in keys):
            cont = {t: lp for t, lp in positions[1].items() if continues_code(t)}
            p_stop = max(0.0, 1.0 - sum(math.exp(lp) for lp in cont.values()))
            base = out[head]
            out[head] = base + math.log(p_stop) if p_stop > 0 else -math.inf
            for t, lp in cont.items():
                k = head + t.strip()
                if k in keys:
                    out[k] = _logaddexp(out[k], base + lp)
    return out


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))
