"""`--protocol release`: every condition asked exactly as the paper's release asks it, rendered
once at set-up into a `grid.Plan` (`release_plan`), which the run loop asks like any other.

For each item the release builds one instruction with its own function (`get_prompt_of_rq1`, or
`get_prompt_of_rq2` for a steering method and country) from the item as its questionnaire file
holds it, and sends the message list its backend function holds around that instruction. The
chat a model sees, as a structure (the text itself is read from the checkout, never stored here):

    [{"role": "system", "content": <the release's system message>},
     {"role": "user",   "content": <instruction> <format examples> <question> <answer lines>}]

What differs from `--protocol ours` (utils/probing/prompts.py): the release's wording, format
examples, questionnaire files and system message; its decoding (`decoding()`: the API scripts'
default temperature with no token limit; greedy local generation with its `max_new_tokens`); its
re-asking (the same prompt at the same temperature) and its acceptance rule (its own matcher,
`accept.py`). Items its translations lack are not asked (`missing_items`).

The sensitivity variants, which the release ships as inputs but no script for, are its RQ1 prompt
with `inputs/sensitivity/<variant>.txt` read in place of its format-example file (`number`,
`prob`) or its shuffled questionnaire `WV7_shuffle.jsonl` (`order`, scored in the English order).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

from utils.core.errors import UserError
from utils.core.flag_parser import match_name
from utils.core.questionnaire import load_questionnaire
from utils.core.records import Message, ProbeRequest, ProbeResult, SurveyItem
from utils.core.results.spec import Decoding, Experiment, RunSpec
from utils.probing.backends import Completion
from utils.probing.conditions import Condition, choose
from utils.probing.probe_config import ProbeConfig
from utils.probing.grid import Plan, plan_sha256
from utils.probing.identity import number_text
from utils.probing.methods.verbalized import Verbalized
from utils.probing.release.accept import Matcher, accepted_shares, release_matcher
from utils.probing.release.loader import (
    COMMON,
    RELEASE_URL,
    ReleaseCheckout,
    call_keywords,
    message_plan,
    open_release,
    script_choices,
    script_default,
    split_marker,
)

BACKENDS = {"api": ("get_api_expressed_distribution", "create", "prob_by_api.py"),
            "local": ("get_llm_expressed_distribution", "generate", "prob_by_llm.py")}
# variant -> (questionnaire, example file read in place of the RQ1 one)
VARIANTS = {"number": ("English", "inputs/sensitivity/number.txt"),
            "prob": ("English", "inputs/sensitivity/prob.txt"),
            "order": ("shuffle", None)}
WAVE = "WV7"


@dataclass(frozen=True)
class ReleaseDecoding:
    """How the release decodes. None: not sent (API token limit) or not used (greedy)."""

    temperature: float | None
    max_tokens: int | None
    greedy: bool


@dataclass(frozen=True)
class ReleaseProtocol:
    """The release's prompts, decoding and acceptance for one backend ("api" or "local")."""

    checkout: ReleaseCheckout
    backend: str
    plan: tuple[tuple[str, str | None], ...] = field(repr=False)
    accept: Matcher = field(repr=False)

    def messages(self, instruction: str) -> tuple[Message, ...]:
        return tuple(Message(role, instruction if text is None else text) for role, text in self.plan)

    def result(self, item: SurveyItem, reply: str | None) -> ProbeResult:
        """An answer read the release's way. Accepted: `response` is what the release stores (its
        `--paper-compat` reading) and `distribution` its shares on the item's options, normalized;
        `final` stops re-asking, as the release stops, even in the rare accepted answer
        that gives no share to any option (then `unparsed`, with why). Not accepted: `unparsed`,
        with the release's reason, to be asked again."""
        acc = self.accept(reply)
        raw = reply or ""
        if not acc.ok:
            return ProbeResult(item.id, "unparsed", None, response=reply or "", raw_text=raw,
                               error=f"not accepted by the release's rule: {acc.reason}")
        shares = accepted_shares(acc.text)
        on_options = {k: shares.get(k, 0.0) for k in item.choice_keys}
        total = sum(on_options.values())
        if not (total > 0 and math.isfinite(total)) or min(on_options.values()) < 0:
            return ProbeResult(item.id, "unparsed", None, response=acc.text, raw_text=raw, final=True,
                               error="accepted by the release's rule, but no distribution over the item's options")
        return ProbeResult(item.id, "ok", {k: v / total for k, v in on_options.items()}, response=acc.text,
                           raw_text=raw, final=True)

    def read(self, item: SurveyItem, reply: Completion) -> ProbeResult:
        """The plan's reader: `result` of the text the model wrote (None: a server sent none)."""
        return self.result(item, reply.texts[0])

    def decoding(self, experiment: str = "RQ1") -> ReleaseDecoding:
        function, call, script = BACKENDS[self.backend]
        calls = call_keywords(self.checkout.path(COMMON), function, call)
        if not calls:
            raise UserError(f"{self.checkout.path(COMMON)}: {function} makes no .{call}(...) call; "
                            "is it the paper's release?")
        values = {}
        for name in ("temperature", "max_tokens", "max_new_tokens", "do_sample"):
            seen = {kw.get(name) for kw in calls}
            if len(seen) != 1:
                raise UserError(f"{self.checkout.path(COMMON)}: {function} sends {name} in {len(seen)} ways")
            value = seen.pop()
            if isinstance(value, str) and value.startswith("args."):
                folder = "RQ2" if experiment == "RQ2" else "RQ1"
                value = script_default(self.checkout.path(f"code/{folder}/{script}"), "--" + value[5:])
            values[name] = value
        greedy = self.backend == "local" and not values["do_sample"]
        tokens = values["max_new_tokens"] if self.backend == "local" else values["max_tokens"]
        temperature = None if greedy or values["temperature"] is None else float(values["temperature"])
        return ReleaseDecoding(temperature, None if tokens is None else int(tokens), greedy)

    def countries(self) -> list[str]:
        return list(self.checkout.common.country_language_dict)

    def steering_methods(self) -> list[str]:
        """The methods the release's RQ2 script offers (its `--steering_method` choices)."""
        return list(script_choices(self.checkout.path(f"code/RQ2/{BACKENDS[self.backend][2]}"), "--steering_method"))

    def questionnaire(self, name: str) -> list[tuple[dict, SurveyItem]]:
        """The release's items of `WV7_<name>.jsonl`, read by its own reader, with our record of each.
        Shuffled options keep the English order for scoring."""
        path = self.checkout.path(f"dataset/questions/{WAVE}_{name}.jsonl")
        if not path.is_file():
            raise UserError(f"--release-dir {self.checkout.root} lacks {path.relative_to(self.checkout.root)}; "
                            f"use a complete checkout of {RELEASE_URL}")
        rows = self.checkout.wvs.WVS(WAVE, name).data_list
        language = "English" if name == "shuffle" else name
        items = load_questionnaire(path, language)
        if [r["id"] for r in rows] != [it.id for it in items]:
            raise UserError(f"{path}: the release's reader and ours see different items")
        if name == "shuffle":
            english = {it.id: it.choice_keys for _, it in self.questionnaire("English")}
            items = [SurveyItem(**{**it.__dict__, "order": english.get(it.id, it.order)}) for it in items]
        return list(zip(rows, items))

    def missing_items(self, language: str) -> list[str]:
        """Items of the release's English questionnaire its `language` file lacks (Chinese: 12)."""
        have = {it.id for _, it in self.questionnaire(language)}
        return [it.id for _, it in self.questionnaire("English") if it.id not in have]

    def _condition(self, spec, name, select, build, examples=None, names=None) -> Condition:
        pairs = self.questionnaire(name)
        chosen = {it.id for it in select([it for _, it in pairs])}
        requests = []
        with self.checkout.reading(examples, names) as common:
            for row, item in pairs:
                if item.id in chosen:
                    requests.append(ProbeRequest(item, self.messages(build(common, row)), "verbalized"))
        return Condition(spec, requests)

    def rq1(self, select: Callable = list) -> Condition:
        return self._condition(RunSpec(Experiment.RQ1, language="English"), "English", select,
                               lambda common, row: common.get_prompt_of_rq1(row))

    def rq2(self, steering: str, country: str, select: Callable = list, examples: str | None = None) -> Condition:
        """With `examples`, every file the release's prompt function reads is read from that path
        instead (benchmarks/few_shot_real_shares.py: its few-shot file with other numbers)."""
        steering = _pick(steering, self.steering_methods(), "steering method")
        country = _pick(country, self.countries(), "country")
        # the release's RQ2 rule: `language*` methods ask in the country's language
        language = self.checkout.common.country_language_dict[country] if "language" in steering else "English"
        args = SimpleNamespace(steering_method=steering, country=country,
                               culture=self.checkout.common.country_human_dict.get(country, country))
        # `names`: one of the release's language_persona branches (Japan's) formats a text that has
        # no placeholder with a global `args.culture` the module never defines, so as published it
        # raises NameError; the script's own arguments as that global leave the text as written.
        spec = RunSpec(Experiment.RQ2, steering=steering, country=country, language=language)
        return self._condition(spec, language, select,
                               lambda common, row: common.get_prompt_of_rq2(args, row), examples, {"args": args})

    def sensitivity(self, variant: str, select: Callable = list) -> Condition:
        variant = _pick(variant, list(VARIANTS), "sensitivity variant")
        name, examples = VARIANTS[variant]
        return self._condition(RunSpec(Experiment.SENSITIVITY, variant=variant, language="English"), name, select,
                               lambda common, row: common.get_prompt_of_rq1(row), examples)


def load_release_protocol(path, backend: str) -> ReleaseProtocol:
    """Open the checkout at `path` for `backend` ("api" or "local")."""
    checkout = open_release(path)
    function = BACKENDS[backend][0]
    marker = split_marker(checkout.path(COMMON), function) if backend == "api" else None
    return ReleaseProtocol(checkout, backend, message_plan(checkout.path(COMMON), function),
                           release_matcher(checkout, backend, marker))


def _pick(value: str, valid: list[str], what: str) -> str:
    try:
        return match_name(value, valid, what, extra=" (under --protocol release)")
    except ValueError as exc:
        raise UserError(str(exc)) from None


def release_plan(config: ProbeConfig, select: Callable = list) -> Plan:
    """The plan of a `--protocol release` run: the release's conditions for the selection flags
    (`select` applies `--limit` / `--ids`), asked and read as the release asks and reads, for the
    run's backend (a local model: greedy to the release's token limit, special tokens added)."""
    if config.perturb:
        raise UserError("--protocol release asks as the paper's release did, which had no perturbations; "
                        "drop --perturb")
    if config.group:
        raise UserError("--protocol release asks as the paper's release did, which had no groups; drop --group")
    local = config.backend.kind == "local"
    release = load_release_protocol(config.release_dir, config.backend.kind)
    if config.script == "RQ2":
        countries = choose(config.country, release.countries(), "country")
        methods = choose(config.steering_method, release.steering_methods(), "steering method")
        conditions = [release.rq2(m, c, select) for m in methods for c in countries]
    else:
        conditions = [release.sensitivity(config.variant, select) if config.variant else release.rq1(select)]
    d = release.decoding(config.script)
    if local:
        temperature, max_tokens = (0.0 if d.greedy else d.temperature or 1.0), d.max_tokens or config.max_new_tokens
    else:
        temperature, max_tokens = d.temperature or 0.0, d.max_tokens
    decoding = Decoding("0" if d.greedy else number_text(d.temperature), number_text(d.max_tokens))
    method = Verbalized(temperature, temperature, max_tokens, read=release.read, stop=None)  # re-asks: the same request
    return Plan(conditions, method, decoding, "release", release.checkout.commit, special_tokens=local,
                sha256=plan_sha256(conditions, decoding, f"release {release.backend}", release.checkout.commit))
