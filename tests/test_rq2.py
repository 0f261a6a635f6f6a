"""RQ2 steering: translated questionnaires, the 50-condition grid, and countries as data."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR, QUESTIONS_DIR, REPO_ROOT
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.probing.conditions import paper_steering_methods, rq2_cell, steering_countries, steering_methods

LANGUAGES = ["Chinese", "Japanese", "German", "Korean", "Russian", "Vietnamese", "Portuguese", "Spanish"]
SCRIPTS = {  # a character class every item of the language must use somewhere
    "Chinese": r"[\u4e00-\u9fff]", "Japanese": r"[\u3040-\u30ff]", "Korean": r"[\uac00-\ud7af]",
    "Russian": r"[\u0400-\u04ff]", "Vietnamese": r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]",
    "German": r"[A-Za-zäöüß]", "Portuguese": r"[A-Za-zãõçáéíóúâêô]", "Spanish": r"[A-Za-zñáéíóú¿]",
}
RQ2_LLM = REPO_ROOT / "code" / "RQ2" / "prob_by_llm.py"


@pytest.fixture(scope="module")
def english():
    return load_questionnaire(questionnaire_path("English"))


@pytest.mark.parametrize("language", LANGUAGES + ["shuffle"])
def test_translated_questionnaire_matches_english(english, language):
    items = load_questionnaire(questionnaire_path(language), language)
    assert [i.id for i in items] == [i.id for i in english]
    for tr, en in zip(items, english):
        assert tr.order == en.order and tr.scale == en.scale and len(tr.choices) == len(en.choices)
        assert sorted(tr.choice_keys) == sorted(en.choice_keys)
        if language == "shuffle":
            assert dict(zip(tr.choice_keys, tr.choices)) == dict(zip(en.choice_keys, en.choices))
            continue
        assert tr.choice_keys == en.choice_keys
        assert tr.question.strip() and tr.question != en.question
        assert re.search(SCRIPTS[language], tr.question), (language, tr.id)
        assert all(c.strip() for c in tr.choices)
        assert tr.answer == "\n".join(f"{k}. {c}" for k, c in zip(tr.choice_keys, tr.choices))


def test_shuffle_changes_presentation_and_records_seed(english):
    lines = [json.loads(x) for x in (QUESTIONS_DIR / "WV7_shuffle.jsonl").read_text().splitlines()]
    moved = sum(obj["choice_keys"] != en.choice_keys for obj, en in zip(lines, english))
    assert moved == 144 and {obj["shuffle_seed"] for obj in lines} == {2025}


@pytest.mark.parametrize("language", ["English"] + LANGUAGES)
def test_prompt_files_have_every_template_and_placeholder(language):
    en = json.loads((INPUTS_DIR / "prompts" / "English.json").read_text())
    tr = json.loads((INPUTS_DIR / "prompts" / f"{language}.json").read_text())
    assert set(tr) == set(en)
    for key, value in en.items():
        if isinstance(value, str) and not key.endswith("_note"):  # notes are for people, not templates
            assert set(re.findall(r"\$[A-Za-z_]+", tr[key])) == set(re.findall(r"\$[A-Za-z_]+", value)), key
    ex = json.loads((INPUTS_DIR / "format_examples" / f"{language}.json").read_text())["examples"]
    en_ex = json.loads((INPUTS_DIR / "format_examples" / "English.json").read_text())["examples"]
    assert [e["percentages"] for e in ex] == [e["percentages"] for e in en_ex]


def test_dry_run_of_the_whole_grid(tmp_path):
    out = tmp_path / "grid.jsonl"
    proc = subprocess.run([sys.executable, str(RQ2_LLM), "--dry-run", str(out), "--method", "verbalized"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    countries, methods = steering_countries(), {m: steering_methods()[m] for m in paper_steering_methods()}
    assert len(rows) == 144 * len(countries) * len(methods) == 7200
    by_cell: dict[tuple, list] = {}
    for r in rows:
        by_cell.setdefault((r["country"], r["steering_method"]), []).append(r)
    assert len(by_cell) == 50 and all(len(v) == 144 for v in by_cell.values())
    for (country, method), cell in by_cell.items():
        spec, info = methods[method], countries[country]
        language = info["language"] if spec["language"] == "country" else "English"
        assert {r["language"] for r in cell} == {language}
        prompt = cell[0]["prompt"]
        if language != "English":
            assert re.search(SCRIPTS[language], prompt)
        phrases = json.loads((INPUTS_DIR / "prompts" / f"{language}.json").read_text())["country_phrases"][country]
        named = {k for k, v in phrases.items() if v in prompt}
        expected = {"persona": {"people"}, "group": {"group"}, None: set()}[spec["names"]]
        assert expected <= named and (named == set()) == (spec["names"] is None), (country, method, named)
        few = json.loads((INPUTS_DIR / "few_shot" / f"{country}.json").read_text())["items"]
        first_share = next(iter(few[0]["percentages"].values()))
        shown = f"'{first_share:.2f}".rstrip("0").rstrip(".") + "%'"
        assert (shown in prompt) == (spec["examples"] == "country"), (country, method)


# Written by hand from the paper's countries, not read from inputs/: a word of the country's people
# in English and in the country's own language, which the phrase naming them must contain.
NAMED = {"Argentina": ("Argentinian", "argentinos"), "Brazil": ("Brazilian", "brasileiros"),
         "Chile": ("Chilean", "chilenos"), "China": ("Chinese", "中国"), "Germany": ("German", "Deutschland"),
         "Japan": ("Japanese", "日本"), "Korea": ("Korean", "한국"), "Russia": ("Russian", "России"),
         "Uruguay": ("Uruguayan", "uruguayos"), "Vietnam": ("Vietnamese", "Việt Nam")}
RQ2_API = REPO_ROOT / "code" / "RQ2" / "prob_by_api.py"


def test_few_shot_prompts_name_the_group_as_the_paper_does(tmp_path):
    """The issue's check: the API script's dry run of `--country all --steering_method all` runs the
    paper's five methods, and every few-shot and language_few-shot prompt names the country's people
    in its own language, as a group, next to the country's real shares."""
    out = tmp_path / "grid.jsonl"
    proc = subprocess.run([sys.executable, str(RQ2_API), "--model_name_or_path", "gpt-4", "--country", "all",
                           "--steering_method", "all", "--dry-run", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "OPENAI_API_KEY": ""})
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {r["steering_method"] for r in rows} == {"persona", "few-shot", "language", "language_persona",
                                                    "language_few-shot"}
    checked = 0
    for r in rows:
        if r["steering_method"] not in ("few-shot", "language_few-shot"):
            continue
        english, native = NAMED[r["country"]]
        word = english if r["steering_method"] == "few-shot" else native
        group = json.loads((INPUTS_DIR / "prompts" / f"{r['language']}.json").read_text(encoding="utf-8")
                           )["country_phrases"][r["country"]]["group"]
        instruction, _, rest = r["prompt"].partition("\n\n")
        assert word in group and group in instruction, (r["country"], r["steering_method"], r["id"])
        assert rest.count(group) >= 1 and "$" not in r["prompt"]  # named again beside the real shares
        checked += 1
    assert checked == 2 * 10 * 144


def test_unnamed_few_shot_is_an_extra_method(tmp_path):
    """`few-shot-unnamed` keeps the real shares without naming the people, and runs only when named."""
    assert "few-shot-unnamed" in steering_methods() and "few-shot-unnamed" not in paper_steering_methods()
    keep = lambda items: items[:2]  # noqa: E731
    named = rq2_cell("Argentina", "few-shot", keep, None).condition("verbalized")
    unnamed = rq2_cell("Argentina", "few-shot-unnamed", keep, None).condition("verbalized")
    a, b = named.requests[0].messages[-1].content, unnamed.requests[0].messages[-1].content
    few = json.loads((INPUTS_DIR / "few_shot" / "Argentina.json").read_text())["items"]
    share = f"'{next(iter(few[0]['percentages'].values())):.2f}".rstrip("0").rstrip(".") + "%'"
    assert share in a and share in b
    assert "Argentinian" in a and "Argentinian" not in b
    assert unnamed.spec.condition_folder() == ("RQ2", "few-shot-unnamed", "Argentina")


def test_unknown_country_and_method_are_one_line(tmp_path):
    for flag, value in (("--country", "Narnia"), ("--steering_method", "hypnosis")):
        proc = subprocess.run([sys.executable, str(RQ2_LLM), "--dry-run", str(tmp_path / "x.jsonl"), flag, value],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Argentina" in proc.stderr + "Argentina" \
            and "choose one of" in proc.stderr


def test_a_new_country_is_only_data(tmp_path):
    """Atlantis (fictional) becomes a steering target by adding data files, no code."""
    inputs = tmp_path / "inputs"
    shutil.copytree(INPUTS_DIR, inputs)
    countries = json.loads((inputs / "steering" / "countries.json").read_text())
    countries["countries"]["Atlantis"] = {"language": "English", "wvs_code": 999}
    (inputs / "steering" / "countries.json").write_text(json.dumps(countries))
    prompts = json.loads((inputs / "prompts" / "English.json").read_text())
    prompts["country_phrases"]["Atlantis"] = {"people": "Atlantean people", "respondent": "an Atlantean respondent",
                                              "group": "a group of Atlanteans"}
    (inputs / "prompts" / "English.json").write_text(json.dumps(prompts))
    (inputs / "few_shot" / "Atlantis.json").write_text(json.dumps({"country": "Atlantis", "items": [
        {"id": "Q150", "percentages": {"1": 12.5, "2": 87.5}}]}))
    keep = lambda items: items[:3]  # noqa: E731
    persona = rq2_cell("Atlantis", "persona", keep, None, inputs).condition("verbalized")
    assert persona.spec.condition_folder() == ("RQ2", "persona", "Atlantis") and len(persona.requests) == 3
    assert "Atlantean people" in persona.requests[0].messages[0].content
    few = rq2_cell("Atlantis", "few-shot", keep, None, inputs).condition("logprob")
    assert "'87.5%'" in few.requests[0].messages[0].content
    assert "a group of Atlanteans" in few.requests[0].messages[0].content
    with pytest.raises(UserError, match="no people/respondent/group phrase for Atlantis"):
        prompts["country_phrases"].pop("Atlantis")
        (inputs / "prompts" / "English.json").write_text(json.dumps(prompts))
        rq2_cell("Atlantis", "persona", keep, None, inputs).condition("verbalized")


def test_few_shot_files_fit_their_items(english):
    by_id = {i.id: i for i in english}
    extra = {i.id: i for i in load_questionnaire(QUESTIONS_DIR / "extra" / "WV7_English.jsonl")}
    for country in steering_countries():
        items = json.loads((INPUTS_DIR / "few_shot" / f"{country}.json").read_text())["items"]
        assert len(items) == 5
        for ex in items:
            item = by_id.get(ex["id"]) or extra[ex["id"]]
            assert list(ex["percentages"]) == list(item.choice_keys)
            assert abs(sum(ex["percentages"].values()) - 100) < 0.05


@pytest.mark.slow
def test_grid_runs_end_to_end_and_parse_report_reads_it(tiny_model_dir, tmp_path):
    """All 50 conditions with one model load (a tiny real model, one item each), then the report."""
    proc = subprocess.run([sys.executable, str(RQ2_LLM), "--model_name_or_path", str(tiny_model_dir), "--limit", "1",
                           "--results-root", str(tmp_path), "--quiet"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    files = sorted(tmp_path.glob("RQ2/*/*/*/results.csv"))
    assert len(files) == 50 and {f.parent.name for f in files} == {tiny_model_dir.name}
    report = subprocess.run([sys.executable, str(REPO_ROOT / "show_results" / "parse_report.py"), "--results-root",
                             str(tmp_path), "--out", str(tmp_path / "report.csv")], capture_output=True, text=True)
    assert report.returncode == 0 and "overall: 50/50 parsed" in report.stdout
