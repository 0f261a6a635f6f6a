"""Internal consistency across related questions (supplementary G.2, Table 9): OUR statistic, since
the supplementary material lists the topics and items but not the statistic.

1. each item's options run from one stance of its topic to the other, the same way for every item
   of the topic (`inputs/analysis/consistency_topics.json`, with the reason per item);
2. an answer's *position* on an item is its mean option index rescaled to [0, 1] (option k of N at
   k / (N - 1)), so a 4-option and a 5-option item share one scale;
3. a topic's *consistency* is 1 minus the mean absolute deviation of its items' positions from their
   mean: 1 for the same stance on every item, 0.5 (the lowest) for half the items at each end.

Positions .2, .4, .2, .6 -> mean .35, deviations .15 .05 .15 .25 -> consistency .85. A topic with an
item missing is NaN: comparisons need the same items on both sides.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR

TOPICS_FILE = INPUTS_DIR / "analysis" / "consistency_topics.json"
POOLED = "all countries pooled"  # the people of every country together, a subject beside each country's


@dataclass(frozen=True)
class TopicItem:
    """One item of a topic: `codes` run from the topic's low stance (position 0) to its high one."""

    id: str
    codes: tuple[str, ...]
    why: str = ""


@dataclass(frozen=True)
class Topic:
    name: str
    label: str
    low: str
    high: str
    items: tuple[TopicItem, ...]


def load_topics(path: Path = TOPICS_FILE) -> tuple[Topic, ...]:
    """The topics file; a malformed one is one UserError naming the problem."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        topics = tuple(Topic(t["name"], t.get("label", t["name"]), t.get("low", ""), t.get("high", ""),
                             tuple(TopicItem(i["id"], tuple(str(c) for c in i["codes"]), i.get("why", ""))
                                   for i in t["items"])) for t in data["topics"])
    except FileNotFoundError:
        raise UserError(f"{path} not found: it lists the consistency topics and their items") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a topics file ({type(exc).__name__}: {exc})") from None
    for t in topics:
        if len(t.items) < 2:
            raise UserError(f"{path}: topic {t.name} needs at least two items")
        for it in t.items:
            if len(it.codes) < 2 or len(set(it.codes)) != len(it.codes):
                raise UserError(f"{path}: {t.name}/{it.id} needs two or more distinct option codes")
    if len({t.name for t in topics}) != len(topics):
        raise UserError(f"{path}: topic names repeat")
    return topics


def option_index(topic: Topic, item_ids, orders) -> list[tuple[int, np.ndarray]]:
    """Per item of `topic`: (row in `item_ids`, the positions in the item's questionnaire `order`
    of its codes from low to high). Codes that differ from the questionnaire's are a UserError.

    >>> t = Topic("t", "t", "a", "b", (TopicItem("Q2", ("3", "2", "1")), TopicItem("Q1", ("1", "2"))))
    >>> [(i, idx.tolist()) for i, idx in option_index(t, ["Q1", "Q2"], [("1", "2"), ("1", "2", "3")])]
    [(1, [2, 1, 0]), (0, [0, 1])]
    """
    row = {q: i for i, q in enumerate(item_ids)}
    out = []
    for it in topic.items:
        if it.id not in row:
            raise UserError(f"consistency topic {topic.name}: item {it.id} is not in the questionnaire")
        order = list(orders[row[it.id]])
        if sorted(order) != sorted(it.codes):
            raise UserError(f"consistency topic {topic.name}: {it.id} lists codes {list(it.codes)}, "
                            f"the questionnaire has {order}")
        out.append((row[it.id], np.array([order.index(c) for c in it.codes])))
    return out


def positions(dists: np.ndarray, index: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """[..., J] each item's mean position in [0, 1] from [..., I, K]; NaN where an item has no answer.

    >>> positions(np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]), [(0, np.array([0, 1, 2])), (1, np.array([2, 1, 0]))])
    array([0.25, 0.  ])
    """
    dists = np.asarray(dists, float)
    out = []
    for row, idx in index:
        p = dists[..., row, :][..., idx]  # [..., N] from low to high
        total = p.sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            pos = (p * (np.arange(len(idx)) / (len(idx) - 1))).sum(-1) / total
        out.append(np.where(total > 0, pos, np.nan))
    return np.stack(out, -1)


def consistency(pos: np.ndarray) -> np.ndarray:
    """[...] 1 - mean |x_j - mean(x)| over the last axis; NaN if any item is missing.

    >>> float(np.round(consistency(np.array([0.2, 0.4, 0.2, 0.6])), 6))
    0.85
    """
    pos = np.asarray(pos, float)
    return 1.0 - np.abs(pos - pos.mean(-1, keepdims=True)).mean(-1)


@dataclass(frozen=True)
class TopicScores:
    """One subject's (or a stack's) scores on one topic; `stance` is the mean position (0: low, 1: high)."""

    topic: Topic
    item_positions: np.ndarray
    stance: np.ndarray
    consistency: np.ndarray


def score_topics(dists: np.ndarray, item_ids, orders, topics: tuple[Topic, ...]) -> list[TopicScores]:
    """Every topic for distributions [..., I, K] (one model's [I, K], or countries' [C, I, K])."""
    out = []
    for t in topics:
        pos = positions(dists, option_index(t, item_ids, orders))
        out.append(TopicScores(t, pos, pos.mean(-1), consistency(pos)))
    return out


def steering_effect(model_none: float, model_steered: float, people: float) -> tuple[float, float, float]:
    """(|model - people| without steering, with it, change) of a model's consistency from the target
    country's people's; a negative change means steering moved the model toward them.

    >>> tuple(round(x, 6) for x in steering_effect(0.7, 0.85, 0.9))
    (0.2, 0.05, -0.15)
    """
    before, after = abs(model_none - people), abs(model_steered - people)
    return before, after, after - before
