"""Turning a survey item into the chat a model sees, from the templates under `inputs/`.

All prose lives in data files: `inputs/prompts/<Language>.json` (instruction and labels) and
`inputs/format_examples/<Language>.json` (made-up format examples). `render_messages` is the
only function that builds prompts, so a dry run shows exactly what a model receives.

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

The RQ2 `few-shot` prompt for Japan, as the paper words it: the instruction names the group and
the examples are Japan's real shares (examples 2-5 elided; `$group` filled from `country_phrases`
in `inputs/prompts/English.json`, so Argentina reads "an Argentinian respondent", not "a"):

    You will see one question from an international values survey, with its numbered answer
    options. Estimate the distribution of answers from a group of Japanese people over the options.

    Reply with one mapping ... (as above)

    The replies below are other questions of the same survey, each with the real distribution of
    answers from a group of Japanese people.

    Example 1
    Question: To what degree do you trust people you know personally?
    Options:
    1. Trust completely
    2. Trust somewhat
    3. Do not trust very much
    4. Do not trust at all
    Reply: {'1': '12.99%', '2': '73.49%', '3': '11.99%', '4': '1.53%'}

    ...

    Now the real question.
    Question: In your life, how important is your family?
    ...
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from string import Template

from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR
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
    """The templates of one language plus the format examples to show."""

    language: str
    templates: dict[str, str | None]
    examples: tuple[FormatExample, ...]
    every_method: bool = False  # show the made-up examples whatever the method (the `examples` perturbation)


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"prompt file {path} not found; every language a run asks in needs its prompt "
                        "files under inputs/ (see inputs/README.md)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"prompt file {path} is not valid UTF-8 JSON: {exc}") from None


def load_prompt_set(language: str = "English", examples_file: str | None = None,
                    n_examples: int | None = None, inputs_dir: Path = INPUTS_DIR) -> PromptSet:
    """Load `inputs/prompts/<language>.json` and its format examples.

    `examples_file` (relative to `inputs/`) swaps in another example set, e.g. for the
    sensitivity runs; by default `format_examples/<language>.json`. `n_examples` keeps only
    the first n examples (the 'number' sensitivity variant).
    """
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


def one_answer(ex: FormatExample) -> str:
    """An example's reply where the method asks for one option (`logprob`, `sample`): the option
    with the largest share. `{"1": 20, "2": 50, "3": 30}` -> `2`."""
    return max(ex.percentages, key=lambda k: ex.percentages[k])


def template_key(method: str, names: str | None = None) -> str:
    """The instruction template a method and naming read: `("sample", "persona")` ->
    `"logprob_persona"` (sample asks in the logprob words), `("verbalized", None)` -> `"verbalized"`.
    One place, so a perturbation that swaps templates knows which key its condition needs."""
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


def render_messages(item: SurveyItem, method: str, ps: PromptSet, *, names: str | None = None,
                    phrases: dict[str, str] | None = None,
                    real_examples: tuple[FormatExample, ...] | None = None) -> tuple[Message, ...]:
    """The chat for one item: an optional system message and one user message.

    `names` makes the instruction name a country's people: `persona` uses the templates
    `verbalized_persona` / `logprob_persona`, `group` (the paper's few-shot wording) uses
    `verbalized_group` / `logprob_group` and, with real examples, `examples_intro_real_group`.
    `phrases` fills `$people`, `$respondent` and `$group` with whole phrases stored per country and
    language (article and case included), so no code composes grammar.
    `real_examples` replaces the made-up format examples by real distributions; with the
    logprob method, examples are shown only when they are real (they carry information; the
    format examples only teach a reply format that logprob does not use), or when the prompt set
    asks for them (`every_method`: the `examples` perturbation), each then replying with its most
    common made-up option (`one_answer`), the one-option reply logprob and sample ask for.
    """
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if names is not None and names not in NAMINGS:
        raise UserError(f"unknown naming {names!r}; choose one of {', '.join(NAMINGS)} (inputs/steering/methods.json)")
    if names and not phrases:
        raise UserError(f"naming {names!r} needs the country's phrases "
                        f"(country_phrases in inputs/prompts/{ps.language}.json)")
    t = ps.templates
    wording = WORDING.get(method, method)
    key = template_key(method, names)
    if not t.get(key):
        raise UserError(f"inputs/prompts/{ps.language}.json has no {key!r} template")
    options = item.answer or _options(ps, zip(item.choice_keys, item.choices))
    shown = real_examples if real_examples is not None else \
        (ps.examples if method == "verbalized" or ps.every_method else ())
    examples = "".join(
        _fill(t["example"], n=str(i), question=ex.question, options=_options(ps, ex.options),
              reply=format_percentages(ex.percentages) if wording == "verbalized" or real_examples is not None
              else one_answer(ex))
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
    """Requests for `items`; `steer` passes `names`, `phrases` and `real_examples` to `render_messages`."""
    return [ProbeRequest(item, render_messages(item, method, ps, **steer), method) for item in items]


def prompt_text(request: ProbeRequest) -> str:
    """The chat flattened for people to read (the dry-run's `prompt` field)."""
    if len(request.messages) == 1:
        return request.messages[0].content
    return "\n\n".join(f"[{m.role}]\n{m.content}" for m in request.messages)


def write_dry_run(requests: list[ProbeRequest], path: Path, extra: dict | None = None, append: bool = False) -> int:
    """Write one JSON object per prompt to `path`; returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w", encoding="utf-8") as fh:
        for r in requests:
            row = {"id": r.item.id, "language": r.item.language, "method": r.method, **(extra or {}),
                   "prompt": prompt_text(r), "messages": [m.__dict__ for m in r.messages]}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(requests)
