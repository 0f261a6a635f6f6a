"""The study file: a TOML document read into frozen dataclasses, every mistake one line.

A minimal study (the bundled model, RQ1 only, synthetic human data):

    [[models]]
    backend = "local"
    [experiments.RQ1]
    [human]
    synthetic = true

Every section and key: docs/study.md#what-a-study-file-holds. A `[survey]` (`questions`, an imported
survey's `<name>.questions.jsonl`; optionally `metric`) replaces the WVS: its own table is the human
side, so no `[human]`, and RQ2 steers with persona toward its populations and groups. Relative
paths are relative to where the command runs, as for every flag.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.core.groups import load_group_vars, parse_group, parse_group_vars
from utils.core.errors import UserError
from utils.core.flag_parser import suggest
from utils.core.paths import not_found, repo_hint
from utils.probing.base_url import check_base_url
from utils.probing.conditions import (
    paper_steering_methods,
    sensitivity_variants,
    steering_countries,
    steering_methods,
)
from utils.probing.prompts import METHODS
from utils.study.analyses import ANALYSES, check_script_flags, check_shared
from utils.study.checks import as_list, choice, known, table, text

BACKENDS = ("api", "local")
SECTIONS = ("study", "output", "probe", "models", "experiments", "human", "survey", "analysis")
EXPERIMENTS = ("RQ1", "RQ2", "sensitivity")


@dataclass(frozen=True)
class ModelSpec:
    """`model_name_or_path`: `api`, the name the server knows (required); `local`, a folder or cached
    hub id (None: the bundled model). Prices in US dollars per million tokens, for the dry run."""

    name: str
    backend: str
    model_name_or_path: str | None = None
    methods: tuple[str, ...] = ()
    price_prompt: float | None = None
    price_output: float | None = None
    flags: dict[str, Any] = field(default_factory=dict)  # backend keys and options, as script flags


@dataclass(frozen=True)
class Experiments:
    rq1: bool = False
    rq2_countries: tuple[str, ...] = ()
    rq2_methods: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    rq2_groups: tuple[str, ...] = ()  # e.g. "age=18-29": each RQ2 cell also steered toward that group
    perturb: tuple[str, ...] = ()  # e.g. "order:5": RQ1 also asked under each prompt perturbation (docs/robustness.md)
    rq2_perturb: tuple[str, ...] = ()  # the same for every RQ2 cell (few-shot cells without `examples`)


@dataclass(frozen=True)
class HumanSpec:
    synthetic: bool
    tables: dict[int, Path]  # wave -> prepared long table (given, or where synthetic ones go)
    respondents: int = 300
    seed: int = 0
    groups: tuple[str, ...] = ()  # synthetic tables: group variables prepared per country (prepare_wvs --groups)
    min_group_n: int = 100


@dataclass(frozen=True)
class SurveySpec:
    """An imported survey the study asks instead of the WVS (docs/surveys.md)."""

    questions: Path  # <dir>/<name>.questions.jsonl, with <name>.survey.json and <name>.csv beside it
    metric: str | None = None  # the survey's own unless given


@dataclass(frozen=True)
class AnalysisSpec:
    enabled: bool = True
    only: tuple[str, ...] = ()  # run just these show_results scripts (default: every one whose inputs exist)
    flags: dict[str, Any] = field(default_factory=dict)  # weights, metric, paper_compat, formats, ...
    scripts: dict[str, dict[str, Any]] = field(default_factory=dict)  # flags for one script only


@dataclass(frozen=True)
class Study:
    name: str
    path: Path
    models: tuple[ModelSpec, ...]
    experiments: Experiments
    probe: dict[str, Any]  # flags for every model's probing scripts (methods taken out)
    methods: tuple[str, ...]
    human: HumanSpec
    analysis: AnalysisSpec
    results_root: Path
    figures: Path
    report: Path
    survey: SurveySpec | None = None

    def model_methods(self, model: ModelSpec) -> tuple[str, ...]:
        return model.methods or self.methods


MODEL_KEYS = {
    "api": {"base_url", "api_key_env", "concurrency", "max_retries", "timeout"},
    "local": {"gguf_file", "device", "dtype", "device_map", "batch_size", "no_prefix_cache"},
}
COMMON_MODEL_KEYS = {"name", "backend", "model_name_or_path", "methods", "price_prompt", "price_output", "options"}


def load_study(path: Path) -> Study:
    """Any problem is a `UserError` naming the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise UserError(not_found(path, "study file") if repo_hint(path) else
                        f"{not_found(path, 'study file')}; see configs/demo.toml for an example")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path} is not valid TOML: {exc}") from None
    try:
        return _study(data, path)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None


def _study(data: dict, path: Path) -> Study:
    known(data, SECTIONS, "top level")
    study = table(data, "study")
    known(study, ("name",), "[study]")
    name = text(study.get("name", path.stem), "study.name")
    out = table(data, "output")
    base = Path("runs") / name
    under_base = {"results_root": "results", "figures": "figures", "report": "report.html", "human_dir": "human"}
    known(out, under_base, "[output]")
    results_root, figures, report, human_dir = (Path(text(out.get(key, str(base / default)), f"output.{key}"))
                                                for key, default in under_base.items())

    probe = dict(table(data, "probe"))
    methods = choice(probe.pop("methods", ["verbalized"]), list(METHODS), "probe.methods", allow_all=False)
    models = tuple(_model(m, i) for i, m in enumerate(as_list(data.get("models"), "models")))
    names = [m.name for m in models]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"model name(s) {', '.join(dupes)} appear twice; give each [[models]] its own name")
    survey = _survey(table(data, "survey")) if "survey" in data else None
    experiments = _experiments(table(data, "experiments"), survey)
    if survey is not None and "human" in data:
        raise UserError("[human] names WVS tables; a study with [survey] scores against the survey's own table "
                        "(<name>.csv beside its questions): leave [human] out")
    human = HumanSpec(False, {}) if survey else _human(table(data, "human"), human_dir)
    analysis = _analysis(table(data, "analysis"))
    by = analysis.flags.get("by")
    if by and human.synthetic and by not in human.groups:  # synthetic tables are made with the groups scored
        human = dataclasses.replace(human, groups=human.groups + (by,))
    return Study(name, path, models, experiments, probe, methods, human, analysis, results_root, figures, report,
                 survey)


def _model(raw: Any, i: int) -> ModelSpec:
    where = f"models[{i}]"
    if not isinstance(raw, dict):
        raise UserError(f"{where} must be a table ([[models]])")
    backend = raw.get("backend")
    if backend not in BACKENDS:
        raise UserError(f"{where}.backend must be 'api' or 'local', not {backend!r}")
    known(raw, COMMON_MODEL_KEYS | MODEL_KEYS[backend], f"{where} (backend {backend})")
    model = raw.get("model_name_or_path")
    if model is None and backend == "api":
        raise UserError(f"{where} needs model_name_or_path: the model's name on the server, e.g. 'gpt-4o'")
    if model is not None:
        model = text(model, f"{where}.model_name_or_path")
    from utils.probing.backends.hf.bundled import BUNDLED_NAME

    name = text(raw.get("name", model or BUNDLED_NAME), f"{where}.name")
    prices = {k: raw.get(k) for k in ("price_prompt", "price_output")}
    for k, v in prices.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
            raise UserError(f"{where}.{k} must be US dollars per million tokens (a number >= 0), not {v!r}")
    options = raw.get("options", {})
    if not isinstance(options, dict):
        raise UserError(f"{where}.options must be a table of script flags, e.g. {{max_new_tokens = 4096}}")
    if "base_url" in raw:  # a URL without http:// would retry every item for ~43 s: refused now
        urls = raw["base_url"] if isinstance(raw["base_url"], list) else [raw["base_url"]]  # a list: replicas
        try:
            for url in urls:
                check_base_url(text(url, f"{where}.base_url"))
        except ValueError as exc:
            raise UserError(f"{where}.base_url: {exc}") from None
    flags = {k: v for k, v in raw.items() if k in MODEL_KEYS[backend]} | options
    methods = choice(raw["methods"], list(METHODS), f"{where}.methods", allow_all=False) if "methods" in raw else ()
    return ModelSpec(name, backend, model, methods, prices["price_prompt"], prices["price_output"], flags)


def _survey(raw: dict) -> SurveySpec:
    from utils.core.survey.data import METRICS
    from utils.core.survey.files import read_questionnaire

    known(raw, ("questions", "metric"), "[survey]")
    if "questions" not in raw:
        raise UserError("[survey] needs questions = \"<dir>/<name>.questions.jsonl\", written by "
                        "python dataset/import_survey.py")
    questions = Path(text(raw["questions"], "survey.questions"))
    metric = raw.get("metric")
    if metric is not None and metric not in METRICS:
        raise UserError(f"survey.metric takes {', '.join(METRICS)}, not {metric!r}")
    read_questionnaire(questions)  # a missing or broken survey fails now, not after the probes
    return SurveySpec(questions, metric)


def _experiments(raw: dict, survey: SurveySpec | None = None) -> Experiments:
    """With a survey: RQ1, and RQ2 as persona steering toward its populations and groups (checked when
    planned)."""
    known(raw, EXPERIMENTS, "[experiments]")
    if not raw:
        raise UserError("no experiments: add [experiments.RQ1], [experiments.RQ2] or [experiments.sensitivity]")
    if survey is not None and "sensitivity" in raw:
        raise UserError("[experiments.sensitivity] varies the WVS questionnaire; a study with [survey] has RQ1 "
                        "and RQ2 (use perturb for prompt variations)")
    rq2 = table(raw, "RQ2") if "RQ2" in raw else None
    sens = table(raw, "sensitivity") if "sensitivity" in raw else None
    countries = methods = variants = groups = ()
    if rq2 is not None:
        known(rq2, ("countries", "steering_methods", "groups", "perturb"), "[experiments.RQ2]")
        groups = _strings(rq2, "experiments.RQ2.groups", '["age=18-29", "sex=female"]')
        if survey is not None:
            from utils.core.survey.files import populations

            countries = choice(rq2.get("countries", "all"), list(populations(survey.questions)),
                               "experiments.RQ2.countries")
            methods = choice(rq2.get("steering_methods", ["persona"]), ["persona"],
                             "experiments.RQ2.steering_methods")
        else:
            countries = choice(rq2.get("countries", "all"), list(steering_countries()), "experiments.RQ2.countries")
            methods = choice(rq2.get("steering_methods", "all"), list(steering_methods()),
                             "experiments.RQ2.steering_methods", all_means=paper_steering_methods())
            known_groups = load_group_vars()
            groups = tuple(dict.fromkeys("=".join(parse_group(g, known_groups)) for g in groups))
    if sens is not None:
        known(sens, ("variants",), "[experiments.sensitivity]")
        variants = choice(sens.get("variants", "all"), list(sensitivity_variants()), "experiments.sensitivity.variants")
    rq1 = table(raw, "RQ1")  # {} when there is no RQ1
    known(rq1, ("perturb",), "[experiments.RQ1]")
    return Experiments("RQ1" in raw, countries, methods, variants, groups, _perturb(rq1, "RQ1"),
                       _perturb(rq2 or {}, "RQ2"))


def _strings(section: dict, key: str, example: str) -> tuple[str, ...]:
    given = section.get(key.rsplit(".", 1)[1], [])
    if not isinstance(given, list) or not all(isinstance(g, str) for g in given):
        raise UserError(f"{key} must be a list like {example}, not {given!r}")
    return tuple(given)


def _perturb(section: dict, experiment: str) -> tuple[str, ...]:
    from utils.probing.perturb import parse_specs

    given = _strings(section, f"experiments.{experiment}.perturb", '["order:5", "template:3"]')
    parse_specs(list(given))
    return given


def _human(raw: dict, human_dir: Path) -> HumanSpec:
    known(raw, ("synthetic", "tables", "waves", "respondents", "seed", "groups", "min_group_n"), "[human]")
    synthetic = raw.get("synthetic", False)
    if not isinstance(synthetic, bool):
        raise UserError(f"human.synthetic must be true or false, not {synthetic!r}")
    if synthetic:
        if "tables" in raw:
            raise UserError("[human] has both synthetic = true and tables; choose one")
        waves = raw.get("waves", [7])
        if not isinstance(waves, list) or not waves or any(w not in (5, 6, 7) for w in waves):
            raise UserError(f"human.waves must be a list of 5, 6 and/or 7, not {waves!r}")
        tables = {int(w): human_dir / f"WV{w}.csv" for w in waves}
    else:
        given = raw.get("tables")
        if not isinstance(given, dict) or not given:
            raise UserError("[human] needs synthetic = true, or tables = {7 = \"dataset/human/WV7.csv\"} "
                            "(prepared by dataset/prepare_wvs.py)")
        if "waves" in raw:
            raise UserError("human.waves is for synthetic data; with tables, the keys name the waves")
        tables = {}
        for wave, p in given.items():
            if str(wave) not in ("5", "6", "7"):
                raise UserError(f"human.tables keys are waves 5, 6 or 7, not {wave!r}")
            tables[int(wave)] = Path(text(p, f"human.tables.{wave}"))
    if 7 not in tables:
        raise UserError("[human] needs Wave 7 (the waves the study scores against)")
    ints = {k: raw.get(k, d) for k, d in (("respondents", 300), ("seed", 0), ("min_group_n", 100))}
    for k, v in ints.items():
        low = 0 if k == "seed" else 1
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise UserError(f"human.{k} must be a whole number{' >= 1' if low else ''}, not {v!r}")
    given = raw.get("groups", [])
    names = [given] if isinstance(given, str) else given
    if not isinstance(names, list) or not all(isinstance(g, str) for g in names):
        raise UserError(f"human.groups must be a list of group variables, e.g. [\"age\", \"sex\"], not {given!r}")
    groups = tuple(v.name for v in parse_group_vars(",".join(names), load_group_vars())) if given else ()
    if groups and not synthetic:
        raise UserError("human.groups is for synthetic data; prepare your tables with dataset/prepare_wvs.py --groups")
    return HumanSpec(synthetic, tables, ints["respondents"], ints["seed"], groups, ints["min_group_n"])


def _analysis(raw: dict) -> AnalysisSpec:
    raw = dict(raw)
    enabled = raw.pop("enabled", True)
    scripts = raw.pop("scripts", {})
    names = list(ANALYSES)
    only = choice(raw.pop("only"), names, "analysis.only", allow_all=False) if "only" in raw else ()
    if not isinstance(scripts, dict) or not all(isinstance(v, dict) for v in scripts.values()):
        raise UserError("analysis.scripts must hold one table of flags per script, e.g. "
                        "[analysis.scripts.rq1_country_level] n_boot = 200")
    unknown = sorted(set(scripts) - set(names))
    if unknown:
        raise UserError(f"analysis.scripts: unknown {', '.join(unknown)}{suggest(unknown[0], names)}; "
                        f"the scripts are {', '.join(names)}")
    for script, flags in scripts.items():  # a misspelt key fails now, not after hours of probing
        check_script_flags(script, flags)
    if "by" in raw:  # scored by respondent group: rq1_country_level, rq1_groups (not a flag every script takes)
        raw["by"] = parse_group_vars(text(raw["by"], "analysis.by"), load_group_vars())[0].name
    check_shared(raw)  # a bad key fails now, not after hours of probing
    return AnalysisSpec(bool(enabled), only, raw, scripts)
