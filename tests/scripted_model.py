"""A tiny real Llama whose greedy answer is a text the test chooses, for tests that need a
local model to answer something specific (a well-formed mapping, or no mapping at all).

No code of ours is replaced: transformers' own `sequence_bias` generation setting adds a
large bias to each next token of the script given the tokens before it, so `generate` (with
the backend's prefix cache, stopping rule and decoding) writes the script and then ends.

    model = scripted(tiny_model_dir, "{'1': '10%', '2': '90%'}")
    ask(HFBackend(model, tokenizer), Verbalized(), [request])  -> raw_text "{'1': '10%', '2': '90%'}"
"""
from __future__ import annotations

from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

CONTEXT = 6  # tokens of the script (and the prompt's end) that select each next token


def scripted(model_dir: Path, text: str):
    """A fresh copy of the model in `model_dir` whose greedy reply to any chat prompt is `text`,
    then the end-of-text token."""
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir)).eval()
    tail = tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=True,
                                         add_generation_prompt=True)
    tail = list(tail["input_ids"] if hasattr(tail, "keys") else tail)[-3:]  # "...assistant\n"
    full = tail + tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    following: dict[tuple[int, ...], int] = {}
    for i in range(len(tail), len(full)):
        context = tuple(full[max(0, i - CONTEXT + 1):i])
        if following.setdefault(context, full[i]) != full[i]:
            raise ValueError(f"the script {text!r} repeats a {CONTEXT - 1}-token context with another next token")
    model.generation_config.sequence_bias = {ctx + (nxt,): 1e4 for ctx, nxt in following.items()}
    return model
