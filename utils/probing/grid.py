"""Which conditions a run covers, and how they are asked: the plan a run's set-up makes once.

`plan_for(config)` checks every selection flag before any model or key is touched and renders every
prompt. Under `--protocol release` the release builds the plan; nothing that runs a plan knows that a
release exists.

    plan_for(local_config(["--country", "Japan", "--steering_method", "persona"], "RQ2"))
    -> Plan(conditions=[RQ2/persona/Japan], method=Logprob(temperature=0.0, ...),
            decoding=Decoding("", "", ""), protocol="ours")
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from utils.core.errors import UserError
from utils.core.paths import not_found
from utils.core.groups import load_group_vars, parse_group
from utils.core.results.spec import Decoding, Experiment, RunSpec, Shard
from utils.core.survey.asked import asked_items
from utils.probing.conditions import (
    Cell,
    Condition,
    choose,
    paper_steering_methods,
    rq1_items,
    rq2_cell,
    sensitivity_condition,
    steering_countries,
    steering_methods,
)
from utils.probing.probe_config import ProbeConfig
from utils.probing.identity import number_text
from utils.probing.methods import Method
from utils.probing.methods.logprob import Logprob
from utils.probing.methods.sample import Sample
from utils.probing.methods.verbalized import Verbalized
from utils.probing.perturb import applicable_specs, member_condition, parse_specs
from utils.probing.prompts import load_prompt_set, prompt_text
from utils.probing.repeats import repeated
from utils.probing.survey_steering import survey_cells

CHARS_PER_TOKEN = 4  # the rough rule of a dry run's token estimate (scripts and the study's plan)


@dataclass(frozen=True)
class Plan:
    """`special_tokens`: a local model adds its tokenizer's special tokens to the chat text (the
    release's way); `sha256` (`plan_sha256`) is set where a run records it (the release protocol)."""

    conditions: list[Condition] = field(compare=False)
    method: Method
    decoding: Decoding
    protocol: str = "ours"
    release_commit: str = ""
    special_tokens: bool = False
    sha256: str = ""


def plan_sha256(conditions: list[Condition], decoding: Decoding, reader: str, commit: str) -> str:
    """Over every condition's folder and messages, the decoding, the reader and the commit: one change, another plan."""
    digest = hashlib.sha256(json.dumps([reader, commit, list(decoding.__dict__.values())]).encode("utf-8"))
    for cond in conditions:
        digest.update(json.dumps(["/".join(cond.spec.condition_folder()),
                                  [[[m.role, m.content] for m in r.messages] for r in cond.requests]],
                                 ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def method_for(config: ProbeConfig) -> Method:
    if config.method == "logprob":
        return Logprob(config.temperature, config.retry_temperature, config.max_new_tokens)
    if config.method == "sample":
        return Sample(config.samples, config.sample_temperature, config.max_new_tokens)
    return Verbalized(config.temperature, config.retry_temperature, config.max_new_tokens)


def decoding_for(config: ProbeConfig) -> Decoding:
    """Temperature and token bound where the method generates text, the number of answers for
    `sample`; nothing for `logprob`, which reads one forward pass."""
    if config.method == "logprob":
        return Decoding("", "", "")
    temperature = config.sample_temperature if config.method == "sample" else config.temperature
    return Decoding(number_text(temperature), number_text(config.max_new_tokens),
                    number_text(config.samples) if config.method == "sample" else "")


def plan_for(config: ProbeConfig) -> Plan:
    """A bad selection is one UserError line; with `--repeats R` each condition is followed by its repeats."""
    select = functools.partial(select_items, limit=config.limit, ids=config.ids)
    if config.protocol == "release":  # the release's own items, prompts, messages, decoding and reader
        from utils.probing.release.protocol import release_plan

        plan = release_plan(config, select)
    else:
        plan = Plan(selected_conditions(config, select), method_for(config), decoding_for(config))
    return sharded(repeated(plan, config.repeats, seeded=config.backend.kind == "local"), config.shard)


def sharded(plan: Plan, shard: Shard | None) -> Plan:
    """`--shard I/N`: every condition keeps its slice of the items (`Shard.items`), its spec naming
    the shard so its rows go to their own file; a condition left with no item is not asked."""
    if shard is None:
        return plan
    conditions = [dataclasses.replace(c, spec=c.spec.replace(shard=shard), requests=shard.items(c.requests))
                  for c in plan.conditions]
    return dataclasses.replace(plan, conditions=[c for c in conditions if c.requests])


def select_items(items, limit: int | None, ids: str | None):
    if ids:  # in any case: q1 is Q1
        wanted = [i.strip().upper() for i in ids.split(",") if i.strip()]
        known = {it.id.upper() for it in items}
        unknown = [i for i in wanted if i not in known]
        if unknown:
            raise UserError(f"unknown item id(s) {', '.join(unknown)}; ids look like "
                            f"{', '.join(it.id for it in items[:3])}")
        items = [it for it in items if it.id.upper() in set(wanted)]
    if limit is not None:
        if limit < 1:
            raise UserError("--limit must be at least 1")
        items = items[:limit]
    return items


def selected_conditions(config: ProbeConfig, select) -> list[Condition]:
    """The conditions of the selection flags under our protocol, each asked once; an imported survey
    (`--survey`) is asked as the WVS is, its results under `Surveys/<name>/`."""
    if config.survey is not None and config.script == "RQ2":
        return cells_with_members(survey_cells(config, select), config)
    if config.script == "RQ2":
        countries = choose(config.country, list(steering_countries()), "country")
        methods = choose(config.steering_method, list(steering_methods()), "steering method",
                         paper_steering_methods())
        groups: list = [None]
        if config.group:  # `--group age=18-29 --group sex=female`, each once, checked against groups.json
            known = load_group_vars()
            groups = list(dict.fromkeys(parse_group(t, known) for t in config.group))
        elif config.human is not None:
            raise UserError("--human feeds the few-shot examples of --group; give --group VAR=LABEL, "
                            "or leave out --human")
        if config.human is not None and not Path(config.human).is_file():
            raise UserError(f"{not_found(config.human, '--human')}; prepare it with "
                            "dataset/prepare_wvs.py --groups ...")
        return cells_with_members([rq2_cell(c, m, select, config.questions_dir, group=g, human=config.human)
                                   for g in groups for m in methods for c in countries], config)
    if config.variant:
        if config.survey is not None:
            raise UserError("--variant names a sensitivity variant of the WVS questionnaire; leave it out with "
                            "--survey (--perturb varies any survey's prompts)")
        if config.perturb:
            raise UserError("--perturb varies RQ1's own prompt; run it without --variant")
        return [sensitivity_condition(config.variant, config.method, select, config.questions_dir)]
    if config.survey is None:
        spec, items = RunSpec(Experiment.RQ1, language="English"), rq1_items(config.questions_dir)  # with Q151: RQ3
    else:
        survey, items = asked_items(config.survey)
        spec = RunSpec(Experiment.RQ1, language="English", survey=survey.name, survey_wave=survey.wave)
    return cells_with_members([Cell(select(items), load_prompt_set("English"), {}, spec)], config)


def cells_with_members(cells: list[Cell], config: ProbeConfig) -> list[Condition]:
    """Each cell asked as it is, then its `--perturb` members; one printed line names few-shot cells left
    without `examples`."""
    specs = config.perturb or ()
    parse_specs(specs)  # a bad spec is one line even where every cell would skip it
    out, skipped = [], []
    for cell in cells:
        kept = applicable_specs(specs, cell.real_examples)
        if kept != tuple(specs):
            skipped.append("/".join(cell.spec.condition_folder()[1:]))
        out.append(cell.condition(config.method))
        out += [member_condition(p, cell.items, config.method, cell.spec, cell.steer) for p in parse_specs(kept)]
    if skipped:
        print(f"--perturb examples: left out for {len(skipped)} few-shot cell(s) ({', '.join(skipped[:4])}"
              f"{', ...' if len(skipped) > 4 else ''}): their examples are the country's real shares, the steering "
              "itself (docs/robustness.md)")
    return out


def dry_run(conditions: list[Condition], path: Path) -> int:
    """Every rendered prompt as one JSON object a line, then one line that says how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    chars = 0
    with path.open("w", encoding="utf-8") as fh:
        for c in conditions:
            for r in c.requests:
                text = prompt_text(r)
                row = {"id": r.item.id, "language": r.item.language, "method": r.method, **c.spec.dry_run_fields(),
                       "prompt": text, "messages": [m.__dict__ for m in r.messages]}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                chars += len(text)
    n = sum(len(c.requests) for c in conditions)
    print(f"wrote {n} prompts for {len(conditions)} condition(s) to {path.resolve()} ({chars} characters, about "
          f"{chars // CHARS_PER_TOKEN} prompt tokens at ~{CHARS_PER_TOKEN} characters a token); no model was called")
    return 0
