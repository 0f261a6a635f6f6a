"""When a verbalized answer is complete: generation stops at the closed `{...}` mapping.

Models that think first (`<think> ... </think>`) may write braces while reasoning, so only the
text after the last `</think>` counts, and nothing counts while a `<think>` is still open:

    "Sure: {'1': '40%', '2': '60%'}"      -> closed
    "<think>maybe {'1': 1} ... "          -> not closed (still thinking)
"""
from __future__ import annotations

import torch
from transformers import StoppingCriteria


class MappingClosed(StoppingCriteria):
    """Per row: stop once the new text holds a closed `{...}` after any reasoning, or its last
    token ends the text (`end_ids`). `ends[row]` is the row's length when it stopped, since
    generate pads a stopped row while the others go on. `mapping=False` stops at `end_ids` only
    (the paper's release protocol generates on to its token limit, and matches the whole text)."""

    def __init__(self, tokenizer, start: int, end_ids=(), mapping: bool = True):
        self.tokenizer, self.start, self.end_ids, self.mapping = tokenizer, start, set(end_ids), mapping
        self.ends: dict[int, int] = {}

    def __call__(self, input_ids, scores, **kwargs) -> torch.Tensor:
        for row in range(input_ids.shape[0]):
            if row not in self.ends and (int(input_ids[row, -1]) in self.end_ids
                                         or self.mapping and self._closed(input_ids[row, self.start:])):
                self.ends[row] = input_ids.shape[1]
        return torch.tensor([row in self.ends for row in range(input_ids.shape[0])], device=input_ids.device)

    def _closed(self, new_ids) -> bool:
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        tail = text.rsplit("</think>", 1)[-1]
        return "<think>" not in tail and "{" in tail and "}" in tail[tail.index("{"):]

