"""Turning a survey item into the chat a model sees, from the templates under `inputs/`.

All prose lives in `inputs/prompts/<Language>.json` and `inputs/format_examples/<Language>.json`;
`render_messages` alone builds prompts, so a dry run shows exactly what a model receives.

A fully rendered RQ1 prompt (method `verbalized`, item Q1; examples 2-5 elided here):

    You will see one question from an international values survey, with its numbered answer
    options. Estimate how the people who answer this survey spread their answers over the options.

    Reply with one mapping from each option number to the share of people who pick it, written
    in the form {'1': '30%', '2': '70%'}. Give every option a share, make the shares add up to
    100%, and write nothing after the mapping.

    The replies below only show the format. Their numbers are invented and say nothing about
    what people really think.

    Example 1
    Question: How often do you read a printed newspaper?
    Options:
    1. Every day
    2. Once or twice a week
    3. Less often
    4. Never
    Reply: {'1': '18.5%', '2': '27.25%', '3': '31%', '4': '23.25%'}

    ...

    Now the real question.
    Question: In your life, how important is your family?
    Options:
    1. Very important
    2. Rather important
    3. Not very important
    4. Not at all important
    Reply:

RQ2 `few-shot` names the group in the instruction and shows its real shares (docs/steering.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR, read_json
from utils.core.records import Message, ProbeRequest, SurveyItem

METHODS = ("verbalized", "logprob", "sample")
WORDING = {"sample": "logprob"}  # `sample` asks as one respondent, in the logprob prompt's words
NAMINGS = ("persona", "group")  # how an instruction may name a country's people (inputs/steering/methods.json)
PHRASE_KEYS = ("people", "respondent", "group")  # per country under `country_phrases` in prompts/<Language>.json


@dataclass(frozen=True)
class FormatExample:
    question: str
    options: tuple[tuple[str, str], ...]
    percentages: dict[str, float]


@dataclass(frozen=True)
class PromptSet:
    language: str
    templates: dict[str, str | None]
    examples: tuple[FormatExample, ...]
    every_method: bool = False  # show the made-up examples whatever the method (the `examples` perturbation)


def _read_json(path: Path) -> dict:
    return read_json(path, "every language a run asks in needs its prompt files under inputs/ (see inputs/README.md)")


def load_prompt_set(language: str = "English", examples_file: str | None = None,
                    n_examples: int | None = None, inputs_dir: Path = INPUTS_DIR) -> PromptSet:
    """`examples_file` (under `inputs/`) and `n_examples`: the sensitivity variants' example sets."""
    templates = _read_json(Path(inputs_dir) / "prompts" / f"{language}.json")
    ex_path = Path(inputs_dir) / (examples_file or f"format_examples/{language}.json")
    raw = _read_json(ex_path).get("examples", [])
    examples = tuple(
        FormatExample(e["question"], tuple((str(k), str(c)) for k, c in e["options"]),
                      {str(k): float(v) for k, v in e["percentages"].items()})
        for e in raw[:n_examples]
    )
    return PromptSet(language=language, templates=templates, examples=examples)


def format_percentages(percentages: dict[str, float]) -> str:
    """`{"1": 18.5, "2": 81.5}` -> `{'1': '18.5%', '2': '81.5%'}` (the reply format we ask for)."""
    def pct(v: float) -> str:
        return f"{v:.2f}".rstrip("0").rstrip(".") + "%"
    return "{" + ", ".join(f"'{k}': '{pct(v)}'" for k, v in percentages.items()) + "}"


def template_key(method: str, names: str | None = None) -> str:
    """`("sample", "persona")` -> `"logprob_persona"` (sample asks in the logprob words),
    `("verbalized", None)` -> `"verbalized"`; perturbations that swap templates use it too."""
    wording = WORDING.get(method, method)
    return f"{wording}_{names}" if names else wording


def _fill(template: str, **values: str) -> str:
    return Template(template).safe_substitute(**values)


def _options(ps: PromptSet, pairs) -> str:
    return "\n".join(_fill(ps.templates["option_line"], key=k, choice=c) for k, c in pairs)


def example_from_item(item: SurveyItem, percentages: dict[str, float]) -> FormatExample:
    """A real survey item with its real shares, shown as an example (the few-shot methods)."""
    return FormatExample(item.question, tuple(zip(item.choice_keys, item.choices)),
                         {k: float(percentages[k]) for k in item.choice_keys if k in percentages})


def whole_phrases(forms: dict, where: str, what: str, **values: str) -> dict[str, str]:
    """Each of `PHRASE_KEYS` from `forms`, `$place`, `$label`... filled from `values`; one missing is one line."""
    missing = [k for k in PHRASE_KEYS if not forms.get(k)]
    if missing:
        raise UserError(f"{where} has no {'/'.join(missing)} phrase for {what}")
    try:
        return {k: Template(forms[k]).substitute(**values) for k in PHRASE_KEYS}
    except (KeyError, ValueError) as exc:  # a misspelt slot in a hand-edited file is never left in a prompt
        slots = ", ".join(f"${v}" for v in values) or "none; write $$ for a dollar sign"
        message = f"{where}: a phrase has an unknown slot or a lone $ ({exc}); its slots: {slots}"
    raise UserError(message)


def render_messages(item: SurveyItem, method: str, ps: PromptSet, *, names: str | None = None,
                    phrases: dict[str, str] | None = None,
                    real_examples: tuple[FormatExample, ...] | None = None) -> tuple[Message, ...]:
    """An optional system message and one user message. `names` (`persona`, or `group`: the paper's
    few-shot wording) names a country's people, filled from `phrases`; `real_examples` replaces the
    made-up examples. logprob and sample show examples only when real (made-up ones only teach a reply
    format they do not use) or when `every_method` asks, each then replying with its top option."""
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if names is not None and names not in NAMINGS:
        raise UserError(f"unknown naming {names!r}; choose one of {', '.join(NAMINGS)} (inputs/steering/methods.json)")
    if names and not phrases:
        raise UserError(f"naming {names!r} needs the country's phrases "
                        f"(country_phrases in inputs/prompts/{ps.language}.json)")
    t = ps.templates
    key = template_key(method, names)
    if not t.get(key):
        raise UserError(f"inputs/prompts/{ps.language}.json has no {key!r} template")
    options = item.answer or _options(ps, zip(item.choice_keys, item.choices))
    shown = real_examples if real_examples is not None else \
        (ps.examples if method == "verbalized" or ps.every_method else ())
    examples = "".join(
        _fill(t["example"], n=str(i), question=ex.question, options=_options(ps, ex.options),
              reply=format_percentages(ex.percentages) if method == "verbalized" or real_examples is not None
              else max(ex.percentages, key=ex.percentages.get))  # a logprob/sample example replies its top option
        for i, ex in enumerate(shown, start=1)
    )
    intro = t["examples_intro"]
    if real_examples is not None:
        intro = t["examples_intro_real_group"] if names == "group" else t["examples_intro_real"]
    fill = dict(phrases or {})
    intro = _fill(intro, **fill)
    block_key = "question_block" if method == "verbalized" else "question_block_logprob"
    block = _fill(t[block_key], question=item.question, options=options)
    user = _fill(t[key], examples_block=(intro + examples) if examples else "", question_block=block, **fill)
    messages = [Message("user", user)]
    if t.get("system"):
        messages.insert(0, Message("system", str(t["system"])))
    return tuple(messages)


def build_requests(items: list[SurveyItem], method: str, ps: PromptSet, **steer) -> list[ProbeRequest]:
    """`steer`: `names`, `phrases` and `real_examples` for `render_messages`."""
    return [ProbeRequest(item, render_messages(item, method, ps, **steer), method) for item in items]


def prompt_text(request: ProbeRequest) -> str:
    """The chat flattened for people to read (the dry-run's `prompt` field)."""
    if len(request.messages) == 1:
        return request.messages[0].content
    return "\n\n".join(f"[{m.role}]\n{m.content}" for m in request.messages)
