"""RQ2 steering: translated questionnaires, the 50-condition grid, and countries as data."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR, QUESTIONS_DIR, REPO_ROOT
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.probing.conditions import rq2_condition, steering_countries, steering_methods

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
        if isinstance(value, str):
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
    countries, methods = steering_countries(), steering_methods()
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
        demonyms = json.loads((INPUTS_DIR / "prompts" / f"{language}.json").read_text())["demonyms"]
        assert (demonyms[country] in prompt) == spec["persona"], (country, method)
        few = json.loads((INPUTS_DIR / "few_shot" / f"{country}.json").read_text())["items"]
        first_share = next(iter(few[0]["percentages"].values()))
        shown = f"'{first_share:.2f}".rstrip("0").rstrip(".") + "%'"
        assert (shown in prompt) == (spec["examples"] == "country"), (country, method)


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
    prompts["demonyms"]["Atlantis"] = "Atlantean"
    (inputs / "prompts" / "English.json").write_text(json.dumps(prompts))
    (inputs / "few_shot" / "Atlantis.json").write_text(json.dumps({"country": "Atlantis", "items": [
        {"id": "Q150", "percentages": {"1": 12.5, "2": 87.5}}]}))
    keep = lambda items: items[:3]  # noqa: E731
    persona = rq2_condition("Atlantis", "persona", "verbalized", keep, None, inputs)
    assert persona.folder == ("RQ2", "persona", "Atlantis") and len(persona.requests) == 3
    assert "Atlantean people" in persona.requests[0].messages[0].content
    few = rq2_condition("Atlantis", "few-shot", "logprob", keep, None, inputs)
    assert "'87.5%'" in few.requests[0].messages[0].content
    with pytest.raises(UserError, match="no demonym"):
        prompts["demonyms"].pop("Atlantis")
        (inputs / "prompts" / "English.json").write_text(json.dumps(prompts))
        rq2_condition("Atlantis", "persona", "verbalized", keep, None, inputs)


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
