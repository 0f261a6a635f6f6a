"""`run_meta.json`: what produced a results file, so a number can be traced back to its run."""
from __future__ import annotations

import contextlib
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from utils.core.atomic import sha256_file
from utils.core.git import git_head
from utils.core.paths import INPUTS_DIR, REPO_ROOT
from utils.core.questionnaire import questionnaire_path
from utils.core.results.spec import RunSpec
from utils.core.secrets import redact_value
from utils.probing.conditions import sensitivity_variants, steering_methods

PACKAGES = ("openai", "transformers", "torch", "accelerate", "gguf", "numpy", "pandas", "scipy")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def run_meta(flags: dict, **extra) -> dict:
    """Arguments (secret values redacted, never dropped by name), versions, commit and time;
    `flags`: `ProbeConfig.arguments()`."""
    arguments = {k: (str(v) if isinstance(v, Path) else v) for k, v in flags.items()}
    return {"arguments": redact_value(arguments), "python": platform.python_version(),
            "packages": package_versions(), "git_commit": git_head(REPO_ROOT) or "",
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **redact_value(extra)}


def input_files(spec: RunSpec, questions_dir: Path | None, inputs_dir: Path = INPUTS_DIR) -> list[Path]:
    """The data files a condition's prompts were rendered from.

    >>> [p.name for p in input_files(RunSpec(Experiment.RQ1, language="English"), None)]
    ['WV7_English.jsonl', 'English.json', 'English.json', 'WV567.jsonl', 'WV7_English.jsonl']
    """
    experiment = spec.experiment
    language = spec.language or "English"
    questionnaire, examples = language, f"format_examples/{language}.json"
    files = []
    if experiment == "sensitivity":
        variant = sensitivity_variants(inputs_dir).get(spec.variant or "", {})
        questionnaire, examples = variant.get("questionnaire", questionnaire), variant.get("examples_file", examples)
        files.append(inputs_dir / "sensitivity" / "variants.json")
    files[:0] = [questionnaire_path(questionnaire, questions_dir), inputs_dir / "prompts" / f"{language}.json",
                 inputs_dir / examples]
    if experiment == "RQ1":  # Q151, asked for RQ3: the cross-wave mapping and its wording (`rq1_items`)
        folder = questionnaire_path(language, questions_dir).parent
        files += [folder / "WV567.jsonl", folder / "extra" / "WV7_English.jsonl"]
    family = spec.perturbation.family if spec.perturbation else ""
    family = {"examples": "format_examples", "template": "templates", "labels": "labels"}.get(family)
    if family:  # --perturb: the wordings, letters or example pool it read
        files.append(inputs_dir / "perturb" / family / f"{language}.json")
    if experiment == "RQ2":
        files += [inputs_dir / "steering" / "methods.json", inputs_dir / "steering" / "countries.json"]
        if steering_methods(inputs_dir).get(spec.steering or "", {}).get("examples") == "country":
            extra = questionnaire_path(language, questions_dir).parent / "extra" / f"WV7_{language}.jsonl"
            files += [inputs_dir / "few_shot" / f"{spec.country or ''}.json", extra]
    return files


def input_hashes(spec: RunSpec, questions_dir: Path | None) -> dict[str, str]:
    """`{file: sha256}` of `input_files` that exist (paths relative to the repository when inside it)."""
    out = {}
    for path in input_files(spec, questions_dir):
        path = Path(path).resolve()
        if path.is_file():
            key = str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
            out[key] = sha256_file(path)
    return out
