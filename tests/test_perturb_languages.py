"""The prompt-perturbation text of every language of inputs/prompts/, read with the project's own loaders:
the template wordings (all six keys, RQ1's and the RQ2 steering ones), the labels and the format-example
pool, and a real item of each language's questionnaire rendered under every perturbation with nothing left
unfilled. Each check is a function over an inputs folder, so the last tests can show that a broken copy of
the data fails them."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from utils.core.paths import INPUTS_DIR
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.probing import perturb
from utils.probing.perturb import Perturbation, letters_for, prompt_set
from utils.probing.prompts import METHODS, build_requests, load_prompt_set, render_messages

LANGUAGES = sorted(p.stem for p in (INPUTS_DIR / "prompts").glob("*.json"))
KEYS = ("verbalized", "logprob", "verbalized_persona", "logprob_persona", "verbalized_group", "logprob_group")
TAIL = "$examples_block$question_block"
# string.Template's identifiers are ASCII, so "$peopleのうち" is $people followed by Japanese
IDENT = r"[_A-Za-z][_A-Za-z0-9]*"
PLACEHOLDER = re.compile(rf"\$(?:\{{({IDENT})\}}|({IDENT}))")
UNFILLED = re.compile(rf"\$(?:\{{{IDENT}\}}|{IDENT})")
REPLY = re.compile(r"\{'[^']+': '30%', '[^']+': '70%'\}")  # the example reply the instructions show
N_WORDINGS = 5
MIN_LETTERS = 11  # items have up to 11 options


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


def check_instruction(text: str, reference: str, where: str) -> None:
    """`text` has exactly the placeholders of `reference` (the same key of inputs/prompts) and ends
    in the examples and the question."""
    assert isinstance(text, str) and text.strip(), where
    assert placeholders(text) == placeholders(reference), (where, placeholders(text), placeholders(reference))
    assert text.endswith(TAIL), where


def check_templates(language: str, inputs_dir: Path = INPUTS_DIR) -> None:
    prompts = _json(inputs_dir / "prompts" / f"{language}.json")
    data = _json(inputs_dir / "perturb" / "templates" / f"{language}.json")
    english = _json(inputs_dir / "perturb" / "templates" / "English.json")
    assert data["language"] == language and set(data) == set(english), language
    wordings = data["wordings"]
    assert len(wordings) == N_WORDINGS, (language, len(wordings))
    reply = REPLY.search(prompts["verbalized"]).group(0)
    for p in perturb.parse_spec(f"template:{N_WORDINGS}"):
        raw = wordings[p.index - 1]
        assert set(raw) == set(KEYS), (language, p.name, sorted(raw))  # none left to fall back on the default
        ps = prompt_set(p, language, inputs_dir)
        for key in KEYS:
            where = f"{language} {p.name} {key}"
            assert ps.templates[key] == raw[key], where
            check_instruction(raw[key], prompts[key], where)
            assert raw[key] != prompts[key], where  # a wording of its own, not the default
            if key.startswith("verbalized"):
                assert REPLY.findall(raw[key]) == [reply], where
    for key in KEYS:  # five different wordings of each key
        assert len({w[key] for w in wordings}) == N_WORDINGS, (language, key)


def check_labels(language: str, inputs_dir: Path = INPUTS_DIR) -> None:
    prompts = _json(inputs_dir / "prompts" / f"{language}.json")
    data = _json(inputs_dir / "perturb" / "labels" / f"{language}.json")
    assert data["language"] == language and set(data) == set(_json(inputs_dir / "perturb" / "labels" / "English.json"))
    letters = letters_for(language, inputs_dir)
    assert len(letters) >= MIN_LETTERS, (language, len(letters))
    assert all(isinstance(c, str) and len(c) == 1 and not c.isdigit() and c.strip() for c in letters), letters
    assert len(set(letters)) == len(letters), (language, "letters repeat")
    reply = REPLY.search(prompts["verbalized"]).group(0)
    lettered = f"{{'{letters[0]}': '30%', '{letters[1]}': '70%'}}"
    assert set(data["templates"]) == set(KEYS), (language, sorted(data["templates"]))
    ps = prompt_set(Perturbation("labels", 1), language, inputs_dir)
    for key in KEYS:
        text, where = data["templates"][key], f"{language} labels {key}"
        assert ps.templates[key] == text, where
        check_instruction(text, prompts[key], where)
        assert text != prompts[key], where  # says "letter" where the prompt says "number"
        if key.startswith("verbalized"):
            assert REPLY.findall(text) == [lettered] and reply not in text, where


def check_examples(language: str, inputs_dir: Path = INPUTS_DIR) -> None:
    data = _json(inputs_dir / "perturb" / "format_examples" / f"{language}.json")
    english_data = _json(inputs_dir / "perturb" / "format_examples" / "English.json")
    assert data["language"] == language and set(data) == set(english_data)
    english = load_prompt_set("English", "perturb/format_examples/English.json", inputs_dir=inputs_dir).examples
    pool = load_prompt_set(language, f"perturb/format_examples/{language}.json", inputs_dir=inputs_dir).examples
    assert len(pool) == len(english) >= perturb.MIN_POOL, (language, len(pool))
    for ex, en in zip(pool, english):
        assert [k for k, _ in ex.options] == [k for k, _ in en.options], (language, ex.question)
        assert ex.percentages == en.percentages, (language, ex.question)
        assert ex.question.strip() and all(c.strip() for _, c in ex.options), (language, ex.question)
        if language != "English":
            assert ex.question != en.question, (language, "untranslated", ex.question)
    for i in (1, 2, 3):
        shown = prompt_set(Perturbation("examples", i), language, inputs_dir).examples
        assert len(shown) == perturb.EXAMPLES_SHOWN and all(e in pool for e in shown), (language, i)


def check_rendering(language: str, inputs_dir: Path = INPUTS_DIR) -> None:
    """A real item of the language's questionnaire (the first, and one with the most options) under
    every perturbation and method, unsteered and naming a country's people both ways: nothing left unfilled."""
    items = load_questionnaire(questionnaire_path(language), language)
    chosen = [items[0], max(items, key=lambda it: len(it.choice_keys))]
    prompts = _json(inputs_dir / "prompts" / f"{language}.json")
    phrases = next(iter(prompts["country_phrases"].values()))
    members = perturb.parse_specs([f"template:{N_WORDINGS}", "labels", "examples:3", "order:1"])
    letters = letters_for(language, inputs_dir)
    for p in members:
        ps = prompt_set(p, language, inputs_dir)
        for it in chosen:
            shown = perturb.show(it, p, letters if p.family == "labels" else ())
            for method in METHODS:
                chats = [r.messages for r in build_requests([shown.item], method, ps)]
                chats += [render_messages(shown.item, method, ps, names=names, phrases=phrases)
                          for names in ("persona", "group")]
                for chat in chats:
                    user = chat[-1].content
                    assert not UNFILLED.search(user), (language, p.name, method, UNFILLED.findall(user))
                    assert it.question in user, (language, p.name, method)
                    if p.family == "labels":
                        assert f"\n{letters[0]}. {it.choices[0]}" in user, (language, method)


@pytest.mark.parametrize("language", LANGUAGES)
def test_template_wordings(language):
    check_templates(language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_labels(language):
    check_labels(language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_format_example_pool(language):
    check_examples(language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_rendered_prompts_fill_every_placeholder(language):
    check_rendering(language)


def test_every_language_of_the_prompts_has_its_files():
    assert len(LANGUAGES) == 9 and "English" in LANGUAGES
    for kind in ("templates", "labels", "format_examples"):
        assert sorted(p.stem for p in (INPUTS_DIR / "perturb" / kind).glob("*.json")) == LANGUAGES, kind


def _copy(folder: Path, language: str) -> Path:
    """The files the checks read, for English and `language`, in a folder of their own (the loaders
    cache what they read per folder, so the broken copy is another folder than the intact one)."""
    for sub in ("prompts", "format_examples", "perturb/templates", "perturb/labels", "perturb/format_examples"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for lang in {"English", language}:
            shutil.copy(INPUTS_DIR / sub / f"{lang}.json", folder / sub / f"{lang}.json")
    return folder


def _edit(path: Path, change) -> None:
    data = _json(path)
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@pytest.mark.parametrize("check, file, change", [
    (check_templates, "perturb/templates", lambda d: d["wordings"][2].pop("logprob_group")),
    (check_templates, "perturb/templates",
     lambda d: d["wordings"][0].update(verbalized_persona=d["wordings"][0]["verbalized"])),  # no $people
    (check_templates, "perturb/templates",
     lambda d: d["wordings"][4].update(logprob=d["wordings"][4]["logprob"].replace("$question_block", ""))),
    (check_templates, "perturb/templates", lambda d: d["wordings"].pop()),
    (check_labels, "perturb/labels", lambda d: d.update(labels=d["labels"][:10])),
    (check_labels, "perturb/labels", lambda d: d.update(labels=[d["labels"][0]] + d["labels"][:-1])),
    (check_labels, "perturb/labels", lambda d: d["templates"].pop("verbalized_group")),
    (check_examples, "perturb/format_examples", lambda d: d["examples"].pop()),
    (check_examples, "perturb/format_examples", lambda d: d["examples"][3]["percentages"].update({"1": 50.0})),
    (check_rendering, "perturb/templates",
     lambda d: d["wordings"][1].update(logprob=d["wordings"][1]["logprob"].replace(TAIL, "$typo " + TAIL))),
])
def test_the_checks_fail_on_broken_data(tmp_path, check, file, change):
    language = "Russian"
    check(language, _copy(tmp_path / "intact", language))  # the copy passes as it is
    broken = _copy(tmp_path / "broken", language)
    _edit(broken / file / f"{language}.json", change)
    with pytest.raises(AssertionError):
        check(language, broken)
