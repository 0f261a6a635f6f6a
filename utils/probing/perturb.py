"""Prompt perturbations (`--perturb SPEC`): how an item is shown and how its answer is read back.

A score is only as good as its spread over prompts a reader would accept as equal. A spec is
`FAMILY:K@SEED` (`order:5`, `order:reversed`, `examples:5`, `template:3`, `labels`; seed 0 when left out);
each member is a condition with its own folder and identity columns, so rows asked differently never mix.
Families, data files and languages: docs/robustness.md.

A permuted item's options are renumbered 1..N in the shown order, so a model's liking for "1" shows as
a position bias instead of travelling with the option; `restore` maps the answer back to the item's WVS
codes before it is stored. Q1 under the permutation (2, 0, 3, 1):

    listed: 1. Very important / 2. Rather important / 3. Not very important / 4. Not at all important
    shown:  1. Not very important / 2. Very important / 3. Not at all important / 4. Rather important
    answer {"1": .1, "2": .6, "3": .0, "4": .3}  ->  stored {"3": .1, "1": .6, "4": .0, "2": .3}
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR, read_json
from utils.core.records import ProbeResult, SurveyItem
from utils.core.results.spec import Perturbation, RunSpec
from utils.probing.conditions import Condition
from utils.probing.prompts import FormatExample, PromptSet, build_requests, load_prompt_set, template_key

FAMILIES = ("order", "reversed", "examples", "template", "labels")
SPEC = re.compile(r"^(?P<family>[a-z]+)(?::(?P<count>\d+|reversed))?(?:@(?P<seed>\d+))?$")
EXAMPLES_SHOWN = 5  # as many as the default prompt shows
MIN_POOL = 20


def parse_spec(text: str) -> list[Perturbation]:
    """`"order:2@7"` -> [order-1 seed 7, order-2 seed 7]; a bad spec is one line saying the grammar.

    >>> [p.name for p in parse_spec("order:reversed")], [p.name for p in parse_spec("labels")]
    (['reversed-1'], ['labels-1'])
    """
    m = SPEC.match(text.strip().lower())
    family, count = (m["family"], m["count"]) if m else ("", None)
    if family == "order" and count == "reversed":
        family, count = "reversed", "1"
    if family in ("labels", "reversed") and count is None:
        count = "1"
    if not m or family not in FAMILIES or count is None or count == "reversed" or int(count) < 1 \
            or (family in ("labels", "reversed") and count != "1"):
        raise UserError(f"--perturb {text!r}: write order:K, order:reversed, examples:K, template:K or labels "
                        "(K at least 1), optionally @SEED, e.g. order:5@1")
    return [Perturbation(family, i, int(m["seed"] or 0)) for i in range(1, int(count) + 1)]


def parse_specs(texts: tuple[str, ...] | list[str]) -> list[Perturbation]:
    return list(dict.fromkeys(p for t in texts for p in parse_spec(t)))


def applicable_specs(texts: tuple[str, ...] | list[str], real_examples: bool) -> tuple[str, ...]:
    """No `examples:K` where the examples shown are real shares: those are the steering itself.

    >>> applicable_specs(["order:2", "examples:3@1"], real_examples=True)
    ('order:2',)
    """
    return tuple(t for t in texts if not (real_examples and parse_spec(t)[0].family == "examples"))


def permutation(item_id: str, n: int, p: Perturbation) -> tuple[int, ...]:
    """Listing positions in the shown order: seeded by (seed, index, item), so an item's
    permutation does not change when other items are added or left out (`--limit`)."""
    if p.family == "reversed":
        return tuple(range(n - 1, -1, -1))
    if p.family != "order":
        return tuple(range(n))
    rng = np.random.default_rng([p.seed, p.index, zlib.crc32(item_id.encode("utf-8"))])
    return tuple(int(i) for i in rng.permutation(n))


@dataclass(frozen=True)
class Shown:
    """An item as one perturbation shows it. `item` is what the model sees (labels in shown
    order); `codes[j]` is the WVS code of the option labelled `item.choice_keys[j]`."""

    item: SurveyItem
    codes: tuple[str, ...]
    original: SurveyItem

    def stored(self) -> SurveyItem:
        """As the row records it: codes and options in the shown order (read by the position analysis),
        the item's own semantic `order`."""
        if self.item == self.original:  # shown as it is (examples, template)
            return self.original
        return replace(self.original, choices=self.item.choices, choice_keys=self.codes, answer="")

    def to_codes(self, by_label: dict[str, float]) -> dict[str, float]:
        labels = dict(zip(self.item.choice_keys, self.codes))
        return {labels.get(k, k): v for k, v in by_label.items()}


def show(item: SurveyItem, p: Perturbation | None, letters: tuple[str, ...] = ()) -> Shown:
    """`item` as `p` shows it; None (or a family that keeps the options) shows it as it is."""
    if p is None or p.family in ("examples", "template"):
        return Shown(item, item.choice_keys, item)
    n = len(item.choice_keys)
    if p.family == "labels" and len(letters) < n:
        raise UserError(f"inputs/perturb/labels has {len(letters)} letters; item {item.id} has {n} options")
    perm = permutation(item.id, n, p)  # labels: the listing order, lettered
    labels = tuple(letters[:n]) if p.family == "labels" else tuple(str(j + 1) for j in range(n))
    shown = replace(item, choices=tuple(item.choices[i] for i in perm), choice_keys=labels, order=labels, answer="")
    return Shown(shown, tuple(item.choice_keys[i] for i in perm), item)


def restore(result: ProbeResult, shown: Shown) -> ProbeResult:
    """Answer over shown labels -> over the item's codes (`sample_counts` too); raw text keeps the labels."""
    extra = dict(result.extra)
    if "sample_counts" in extra:
        extra["sample_counts"] = shown.to_codes(extra["sample_counts"])
    dist = shown.to_codes(result.distribution) if result.distribution is not None else None
    return replace(result, distribution=dist, extra=extra)


def _perturb_file(kind: str, language: str, inputs_dir: Path, name: str):
    """The file `inputs/perturb/<kind>/<language>.json` and its `name` key, which must be there."""
    path = Path(inputs_dir) / "perturb" / kind / f"{language}.json"
    value = read_json(path, f"the {kind} perturbation needs it for {language} (inputs/README.md)").get(name)
    if not value:
        raise UserError(f"{path} has no {name!r} key; the {kind} perturbation reads it")
    return path, value


def example_set(pool: tuple[FormatExample, ...], p: Perturbation) -> tuple[FormatExample, ...]:
    """`EXAMPLES_SHOWN` examples of the pool, drawn without replacement with (seed, index)."""
    if len(pool) < max(EXAMPLES_SHOWN, MIN_POOL):
        raise UserError(f"the examples perturbation needs a pool of at least {max(EXAMPLES_SHOWN, MIN_POOL)} format "
                        f"examples; inputs/perturb/format_examples has {len(pool)}")
    idx = np.random.default_rng([p.seed, p.index]).choice(len(pool), EXAMPLES_SHOWN, replace=False)
    return tuple(pool[int(i)] for i in idx)


def lettered(ex: FormatExample, letters: tuple[str, ...]) -> FormatExample:
    """A format example with its options lettered by position, its made-up shares to match."""
    to = {k: letters[j] for j, (k, _) in enumerate(ex.options)}
    return FormatExample(ex.question, tuple((to[k], c) for k, c in ex.options),
                         {to[k]: v for k, v in ex.percentages.items()})


def prompt_set(p: Perturbation | None, language: str = "English", inputs_dir: Path = INPUTS_DIR,
               key: str | None = None) -> PromptSet:
    """`key` (`prompts.template_key`): the template the condition reads, which a wording must have."""
    ps = load_prompt_set(language, inputs_dir=inputs_dir)
    if p is None or p.family in ("order", "reversed"):
        return ps
    if p.family == "examples":
        pool = load_prompt_set(language, f"perturb/format_examples/{language}.json", inputs_dir=inputs_dir).examples
        return replace(ps, examples=example_set(pool, p), every_method=True)
    examples = ps.examples
    if p.family == "template":
        path, wordings = _perturb_file("templates", language, inputs_dir, "wordings")
        if p.index > len(wordings):
            raise UserError(f"{path} has {len(wordings)} wordings; template:K takes K up to {len(wordings)}")
        templates, where = wordings[p.index - 1], f"wording {p.index}"
    else:
        examples = tuple(lettered(ex, letters_for(language, inputs_dir)) for ex in examples)
        path, templates = _perturb_file("labels", language, inputs_dir, "templates")
        where = "'templates'"
    if key is not None and not templates.get(key):  # else the original wording is asked under the member's name
        raise UserError(f"{path}: {where} has no {key!r} key, the template this condition reads (keys as in "
                        f"inputs/prompts/{language}.json)")
    return replace(ps, templates={**ps.templates, **templates}, examples=examples)


def letters_for(language: str = "English", inputs_dir: Path = INPUTS_DIR) -> tuple[str, ...]:
    return tuple(_perturb_file("labels", language, inputs_dir, "labels")[1])


def member_condition(p: Perturbation, items: list[SurveyItem], method: str, base: RunSpec,
                     steer: dict | None = None, inputs_dir: Path = INPUTS_DIR) -> Condition:
    """Member `p` of a condition (spec `base`, RQ2's `steer`) as a condition of its own, folder
    `Robustness/<folder>/<member>`. Real few-shot examples keep their order and are lettered as the
    question is."""
    language, steer = base.language or "English", dict(steer or {})
    if p.family == "examples" and steer.get("real_examples") is not None:
        raise UserError("the examples perturbation swaps made-up format examples; a few-shot condition shows "
                        "real shares instead, which are its steering (leave examples:K out for it)")
    ps = prompt_set(p, language, inputs_dir, template_key(method, steer.get("names")))
    letters = letters_for(language, inputs_dir) if p.family == "labels" else ()
    if letters and steer.get("real_examples") is not None:  # lettered as the question is, as format examples are
        steer["real_examples"] = tuple(lettered(ex, letters) for ex in steer["real_examples"])
    shown = {it.id: show(it, p, letters) for it in items}
    requests = build_requests([s.item for s in shown.values()], method, ps, **steer)
    return Condition(base.replace(perturbation=p), requests, shown)
