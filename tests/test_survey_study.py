"""The survey demo study (configs/survey_demo.toml) on an OpinionQA-format survey the test writes:
the bundled model asks it unsteered and steered toward two groups, the survey analyses score it,
and the report names the survey, its source and its licence (issue 26)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from survey_fixtures import write_wave

from utils.core.errors import UserError
from utils.study.study_file import load_study

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "survey_demo.toml"


def imported(tmp_path: Path) -> Path:
    write_wave(tmp_path / "American_Trends_Panel_W26")
    done = subprocess.run([sys.executable, str(ROOT / "dataset" / "import_survey.py"), "--format", "opinionqa",
                           "--input", str(tmp_path / "American_Trends_Panel_W26"), "--output",
                           str(tmp_path / "runs" / "survey-demo" / "survey")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return tmp_path / "runs" / "survey-demo" / "survey" / "opinionqa.questions.jsonl"


@pytest.mark.slow
def test_the_survey_demo_runs_end_to_end_and_the_report_names_the_survey(tmp_path):
    imported(tmp_path)
    done = subprocess.run([sys.executable, str(ROOT / "code" / "run_study.py"), "--config", str(DEMO)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "survey_scores: ok" in done.stdout and "survey_human_pairs: ok" in done.stdout
    assert "rq1_country_level" not in done.stdout  # the WVS's analyses have nothing to do here
    figures = tmp_path / "runs" / "survey-demo" / "figures" / "logprob"
    steering = pd.read_csv(figures / "survey_opinionqa_steering.csv", keep_default_na=False)
    assert sorted(zip(steering.group_var, steering.group)) == [("", ""), ("SEX", "Female"), ("SEX", "Male")]
    scores = pd.read_csv(figures / "survey_opinionqa_scores.csv", keep_default_na=False)
    unsteered = dict(zip(zip(scores.group_var, scores.group), scores.score))
    assert dict(zip(zip(steering.group_var, steering.group), steering.unsteered)) == \
        pytest.approx({k: unsteered[k] for k in (("", ""), ("SEX", "Female"), ("SEX", "Male"))})
    html = (tmp_path / "runs" / "survey-demo" / "report.html").read_text(encoding="utf-8")
    assert "Survey: opinionqa" in html and "Pew Research Center&#x27;s terms of use" in html
    assert "no caption registered" not in html and "synthetic-banner" not in html


def test_a_survey_study_has_no_wvs_tables_and_no_sensitivity(tmp_path):
    questions = imported(tmp_path)
    base = DEMO.read_text(encoding="utf-8").replace("runs/survey-demo/survey/opinionqa.questions.jsonl",
                                                     str(questions))
    study = tmp_path / "s.toml"
    study.write_text(base, encoding="utf-8")
    assert load_study(study).survey.questions == questions
    cases = [(base + '\n[human]\nsynthetic = true\n', "a study with [survey] scores against the survey's own table"),
             (base + '\n[experiments.sensitivity]\n', "[experiments.sensitivity] varies the WVS questionnaire"),
             (base.replace('countries = ["United States"]', 'countries = ["Japan"]'),
              "experiments.RQ2.countries: unknown 'Japan'; choose from United States"),
             (base.replace('steering_methods', 'x').replace('[experiments.RQ2]', '[experiments.RQ2]\n'
                                                           'steering_methods = ["few-shot"]'),
              "experiments.RQ2.steering_methods: unknown 'few-shot'; choose from persona"),
             (base.replace("[experiments.RQ1]", "[experiments.RQ1]\nperturbs = []"),
              "unknown key(s) perturbs in [experiments.RQ1] (did you mean perturb?)"),
             (base.replace('groups = ["SEX=Female", "SEX=Male"]', 'groups = "SEX=Female"'),
              "experiments.RQ2.groups must be a list like")]
    for text, message in cases:
        study.write_text(text, encoding="utf-8")
        with pytest.raises(UserError) as err:
            load_study(study)
        assert message in str(err.value) and "\n" not in str(err.value), str(err.value)
    shutil.rmtree(questions.parent)
    study.write_text(base, encoding="utf-8")
    with pytest.raises(UserError, match="opinionqa.survey.json not found; import the survey with"):
        load_study(study)
