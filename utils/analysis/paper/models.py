"""Which models `--paper-compat` reads by default, and in what order: the paper's seven, in the column
order of the supplementary RQ2 table, not the release's stray eighth (`RQ2/.../Korea/gpt-4o`).

    >>> paper_selection(None, ["gpt-4o", "gpt-4", "CohereLabs/aya-23-35B"])
    'CohereLabs/aya-23-35B,gpt-4'
    >>> paper_selection("all", ["gpt-4o", "gpt-4"])
    'all'
"""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

PAPER_MODELS = (
    "CohereLabs/aya-23-35B",
    "meta-llama/Meta-Llama-3-70B-Instruct",
    "Qwen/Qwen2.5-72B-Instruct",
    "gpt-3.5-turbo",
    "gpt-4",
    "deepseek-chat",
    "deepseek-reasoner",
)
ALL = "all"


def paper_selection(models: str | None, found: Iterable[str]) -> str | None:
    """The `--models` value under `--paper-compat`: if not given, the paper's among `found` (None if none)."""
    if models is not None and models.strip().lower() == ALL:
        return ALL
    if models:
        return models
    present = set(found)
    chosen = [m for m in PAPER_MODELS if m in present]
    return ",".join(chosen) if chosen else None


def sort_models(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in `paper_order` of their `model`, AVG last; rows of one model keep their order."""
    order = paper_order(m for m in df["model"] if m != "AVG") + ["AVG"]
    return df.sort_values("model", key=lambda s: s.map({m: i for i, m in enumerate(order)}),
                          kind="stable").reset_index(drop=True)


def paper_order(models: Iterable[str]) -> list[str]:
    """The paper's models first, in its column order, then any others in the order given.

    >>> paper_order(["gpt-4", "zzz", "CohereLabs/aya-23-35B"])
    ['CohereLabs/aya-23-35B', 'gpt-4', 'zzz']
    """
    models = list(dict.fromkeys(models))
    rank = {m: i for i, m in enumerate(PAPER_MODELS)}
    return sorted(models, key=lambda m: (rank.get(m, len(rank)), models.index(m)))
