"""The study file: the shipped configs load, every mistake is one line naming the key, and the
paper's dry run counts the paper's prompts (RQ1 144 and Q151 for RQ3, RQ2 7,200, sensitivity 432 per
model)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from utils.core.errors import UserError
from utils.study import dry_run
from utils.study.study_file import load_study
from utils.study.plan import study_jobs

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = """
[[models]]
backend = "local"

[experiments.RQ1]

[human]
synthetic = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_minimal_study_defaults(tmp_path):
    study = load_study(write(tmp_path, MINIMAL))
    assert [m.name for m in study.models] == ["SmolLM2-135M-Instruct"]
    assert study.experiments.rq1 and not study.experiments.rq2_countries and not study.experiments.variants
    assert study.human.synthetic and set(study.human.tables) == {7}
    assert study.results_root == Path("runs/study/results") and study.report == Path("runs/study/report.html")


def test_paper_config_has_the_papers_seven_models(reference):
    study = load_study(ROOT / "configs" / "paper.toml")
    released = {str(p.parent.relative_to(reference / "results" / "RQ1"))
                for p in (reference / "results" / "RQ1").rglob("*.csv")}
    assert {m.model_name_or_path for m in study.models} == released
    assert len(study.models) == 7 and all(m.backend == "api" for m in study.models)
    served = [m for m in study.models if "base_url" in m.flags]
    assert len(served) == 3 and all(m.flags["base_url"].startswith("http://127.0.0.1:") for m in served)


def test_paper_dry_run_counts_the_papers_prompts(monkeypatch):
    for var in ("OPENAI_API_KEY", "DEEPSEEK_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    study = load_study(ROOT / "configs" / "paper.toml")
    table = dry_run.rows(study, study_jobs(study))
    counts = {(r["model"], r["experiment"]): r["prompts"] for r in table}
    assert len(counts) == 21
    for model in study.models:
        assert counts[(model.name, "RQ1")] == 145
        assert counts[(model.name, "RQ2")] == 7200
        assert counts[(model.name, "sensitivity")] == 432
    gpt4 = next(r for r in table if r["model"] == "gpt-4" and r["experiment"] == "RQ1")
    assert gpt4["prompt_cost"] == pytest.approx(gpt4["prompt_tokens"] * 30.0 / 1e6)
    served = next(r for r in table if r["model"] == "CohereLabs/aya-23-35B")
    assert served["prompt_cost"] is None  # no price given: no cost shown
    text = dry_run.render(study, table)
    assert "54,439" in text and "nothing loaded or sent" in text  # 7 x (145 + 7,200 + 432)


def test_demo_config_is_small_and_synthetic():
    study = load_study(ROOT / "configs" / "demo.toml")
    assert study.human.synthetic and [m.backend for m in study.models] == ["local"]
    jobs = study_jobs(study)[study.models[0].name]
    assert sum(len(c.requests) for j in jobs for c in j.conditions) == 72  # 12 items x (RQ1, 4 RQ2, 1 variant)


def test_all_steering_methods_means_the_papers_five(tmp_path):
    study = load_study(write(tmp_path, MINIMAL + "\n[experiments.RQ2]\ncountries = ['japan']\n"))
    assert study.experiments.rq2_countries == ("Japan",)  # matched without regard to case
    assert study.experiments.rq2_methods == ("persona", "few-shot", "language", "language_persona",
                                             "language_few-shot")


@pytest.mark.parametrize("text, message", [
    ("[[models]]\nbackend = 'cloud'\n[experiments.RQ1]\n[human]\nsynthetic = true", "models[0].backend must be"),
    ("[[models]]\nbackend = 'api'\n[experiments.RQ1]\n[human]\nsynthetic = true", "needs model_name_or_path"),
    ("[[models]]\nbackend = 'local'\nbase_url = 'x'\n[experiments.RQ1]\n[human]\nsynthetic = true",
     "unknown key(s) base_url in models[0] (backend local)"),
    (MINIMAL + "\n[experiments.RQ2]\ncountries = ['Atlantis']", "experiments.RQ2.countries: unknown 'Atlantis'"),
    (MINIMAL + "\n[experiments.sensitivity]\nvariants = 'shuffle'", "unknown 'shuffle'; choose from number, prob"),
    (MINIMAL + "\n[probe]\nmethods = ['telepathy']", "probe.methods: unknown 'telepathy'"),
    (MINIMAL.replace("[experiments.RQ1]", ""), "no experiments"),
    ("[experiments.RQ1]\n[human]\nsynthetic = true", "no models"),
    (MINIMAL + "\n[[models]]\nbackend = 'local'", "appear twice"),
    (MINIMAL.replace("synthetic = true", "synthetic = 'yes'"), "human.synthetic must be true or false"),
    (MINIMAL.replace("synthetic = true", "tables = {6 = 'WV6.csv'}"), "needs Wave 7"),
    (MINIMAL + "\n[outputs]\nx = 1", "unknown key(s) outputs in top level"),
    ("[study]\nnmae = 'y'\n" + MINIMAL, "unknown key(s) nmae in [study] (did you mean name?); allowed: name"),
    ("[[models]\nbackend = 'local'", "is not valid TOML"),
    (MINIMAL + "\n[analysis]\nonly = ['rq9_magic']", "analysis.only: unknown 'rq9_magic'"),
    (MINIMAL + "\n[analysis]\nmetric = 'cosine'", "[analysis]: metric takes w1, jsd, tvd, not 'cosine'"),
    (MINIMAL + "\n[analysis]\nbootstraps = 5", "[analysis]: 'bootstraps' is not an option of the analyses"),
    (MINIMAL + "\n[analysis]\nmin_coverag = 0", "'min_coverag' is not an option of the analyses (did you mean "
     "min_coverage?)"),
    (MINIMAL + "\n[analysis]\nformats = 'gif'", "--formats takes png, pdf and/or svg, not 'gif'"),
    (MINIMAL + "\n[analysis]\nmin_coverage = 'all'", "[analysis]: min_coverage takes float, not 'all'"),
    (MINIMAL + "\n[analysis.scripts.rq9_magic]\nn_boot = 5", "analysis.scripts: unknown rq9_magic"),
    (MINIMAL + "\n[analysis.scripts.rq1_country_levl]\nn_boot = 5", "unknown rq1_country_levl (did you mean rq1_country_level?)"),
    # a misspelt key of one script is found when the study is read, not after the probing
    (MINIMAL + "\n[analysis.scripts.rq1_country_level]\nnboot = 200",
     "[analysis.scripts.rq1_country_level]: 'nboot' is not an option of show_results/rq1_country_level.py "
     "(did you mean n_boot?)"),
    (MINIMAL + "\n[analysis.scripts.rq1_country_level]\nn_boot = 'many'", "n_boot takes int, not 'many'"),
    (MINIMAL + "\n[analysis.scripts.elicitation]\nbootstrap = 'people'", "bootstrap takes items, respondents, not 'people'"),
    (MINIMAL + "\n[analysis.scripts.rq1_model_level]\nout = 'x'", "'out' is not an option of show_results/rq1_model_level.py"),
    (MINIMAL + "\n[analysis.scripts.rq1_model_level]\nmetric = 'cosine'", "metric takes w1, jsd, tvd, not 'cosine'"),
    ("[[models]]\nbackend = 'api'\nmodel_name_or_path = 'm'\nbase_url = 'localhost:8000'\n[experiments.RQ1]\n"
     "[human]\nsynthetic = true", "models[0].base_url: 'localhost:8000' has no http:// or https://; did you mean "
     "http://localhost:8000/v1?"),
])
def test_bad_study_is_one_line_naming_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(UserError) as err:
        load_study(path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("probe, message", [
    ("limit = 'many'", "--limit 'many': invalid literal for int()"),
    ("warp_speed = 9", "'warp_speed' is not a flag of code/RQ1/prob_by_llm.py"),
    ("limt = 3", "[probe] (model 'SmolLM2-135M-Instruct'): 'limt' is not a flag of code/RQ1/prob_by_llm.py that a "
     "study may set (did you mean limit?)"),
    ("results_root = 'elsewhere'", "'results_root' is not a flag"),  # [output] decides where results go
])
def test_bad_probe_flags_fail_before_anything_runs(tmp_path, probe, message):
    study = load_study(write(tmp_path, MINIMAL + f"\n[probe]\n{probe}\n"))
    with pytest.raises(UserError) as err:
        study_jobs(study)
    assert message in str(err.value) and "model 'SmolLM2-135M-Instruct'" in str(err.value)
    assert str(err.value).startswith(f"{study.path}: ") and "\n" not in str(err.value)


def test_study_keys_are_the_scripts_settings_typed_as_their_flags(tmp_path):
    """[probe] and [[models]] keys reach the script's config as its flags would set them: a list of
    ids as the comma-separated flag, a switch as a bool, numbers as numbers; the study sets method and
    results root itself."""
    study = load_study(write(tmp_path, MINIMAL.replace('backend = "local"', 'backend = "local"\ngguf_file = "m.gguf"')
                             + '\n[probe]\nmax_new_tokens = 64\nquiet = true\nno_prefix_cache = false\n'
                               'ids = ["Q1", "q2"]\nmethods = ["logprob"]\n'))
    (job,) = study_jobs(study)["SmolLM2-135M-Instruct"]
    c = job.config
    assert (c.max_new_tokens, c.quiet, c.backend.no_prefix_cache, c.ids, c.backend.gguf_file) == \
        (64, True, False, "Q1,q2", "m.gguf")
    assert c.method == "logprob" and c.results_root == study.results_root / "logprob"
    assert [r.item.id for r in job.conditions[0].requests] == ["Q1", "Q2"]


def test_unknown_model_filter_is_one_line(tmp_path):
    study = load_study(write(tmp_path, MINIMAL))
    with pytest.raises(UserError, match="--models: unknown gpt-5; the study has SmolLM2-135M-Instruct"):
        study_jobs(study, ["gpt-5"])


def test_every_analysis_script_shows_its_flags_without_running():
    """Each script's parser (its `build_parser()`, the one its main uses) holds the options of its
    analysis (the dataclass the study checks `[analysis.scripts.<name>]` against) and offers
    --paper-compat exactly where the analysis takes the paper's rules."""
    from wvs_fixtures import load_script

    from utils.analysis.registry import ANALYSES

    own = {"rq1_country_level": "--n-boot", "rq1_model_level": "--repeats", "rq1_groups": "--n-perm",
           "rq1_average_human": "--tau", "human_alignment_matrix": "--no-models", "rq3_temporal": "--select",
           "elicitation": "--compare", "robustness": "--bootstrap", "parse_report": "--tolerance",
           "sensitivity": "--metric", "rq2_steering": "--test", "internal_consistency": "--topics",
           "survey_scores": "--halves", "survey_human_pairs": "--survey-metric"}
    for name, entry in ANALYSES.items():
        options = load_script(f"show_results/{name}.py").build_parser()._option_string_actions
        assert own[name] in options, name
        assert ("--paper-compat" in options) == entry.paper, name


def test_a_survey_analysis_offers_no_shared_flag_it_cannot_honour():
    """An imported survey has its own metric and refusal policy: --metric, --weights,
    --drop-nonsubstantive and --questions-dir would be accepted and ignored, so they are not offered."""
    from wvs_fixtures import load_script

    for name in ("survey_scores", "survey_human_pairs"):
        options = load_script(f"show_results/{name}.py").build_parser()._option_string_actions
        assert not {"--metric", "--weights", "--drop-nonsubstantive", "--questions-dir"} & set(options), name
        assert {"--survey", "--survey-metric", "--out", "--formats"} <= set(options), name
