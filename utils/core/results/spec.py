"""`RunSpec`: what one results file was asked under, in one frozen record.

The only place that knows how a condition is named on disk: its folder, the identity columns every
row carries, and reading either back:

    RunSpec(RQ2, steering="persona", country="Japan", group=("age", "18-29"), name="gpt-4o")
        folder   RQ2/persona/Japan/age=18-29/gpt-4o
        columns  experiment=RQ2, steering_method=persona, country=Japan, group_var=age, group=18-29, ...
    RunSpec(RQ1, perturbation=Perturbation("order", 3), repeat=2, name="org/m")
        folder   Repeats/Robustness/RQ1/order-3/repeat-2/org/m
    RunSpec(RQ1, survey="opinionqa", survey_wave="26", name="org/m")
        folder   Surveys/opinionqa/wave-26/RQ1/org/m
    RunSpec(RQ1, shard=Shard(1, 4), name="org/m")
        folder   RQ1/org/m/shard-1-of-4           (column shard=1/4; the condition is RQ1/org/m)

Columns write no steering as `none` and no variant as `default`; in the code both are None. The
release's files have no identity columns: `from_path` reads their folders.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath

from utils.core.paths import model_folder


class Experiment(StrEnum):
    RQ1 = "RQ1"
    RQ2 = "RQ2"
    SENSITIVITY = "sensitivity"


NO_STEERING, _NO_VARIANT = "none", "default"
WVS, WVS_WAVE = "WVS", "7"  # dataset/questions' questionnaire: the survey of a run without --survey


@dataclass(frozen=True, order=True)
class Perturbation:
    """One member of a `--perturb` family: ("order", 3) is the third permutation of every item."""

    family: str
    index: int
    seed: int = 0

    @property
    def name(self) -> str:
        """Its folder: `order-3`, `order-3@7` for seed 7 (so seeds never share a folder)."""
        return f"{self.family}-{self.index}" + (f"@{self.seed}" if self.seed else "")


@dataclass(frozen=True, order=True)
class Shard:
    """One of `count` contiguous slices of a condition's items (`--shard I/N`), so the shards' rows
    read one after another are the condition's rows in questionnaire order:

    >>> Shard(2, 3).items(list("abcdefg"))
    ['c', 'd']
    >>> [len(Shard(i, 3).items(range(7))) for i in (1, 2, 3)]
    [2, 2, 3]
    """

    index: int  # 1..count
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`1/4` -> Shard(1, 4); anything else a ValueError whose one line says what `--shard` takes."""
        index, sep, count = str(text).strip().partition("/")
        if not (sep and index.strip().isdigit() and count.strip().isdigit()):
            raise ValueError(f"{text!r} is not I/N, e.g. 1/4 (the first of four shards)")
        shard = cls(int(index), int(count))
        if not 1 <= shard.index <= shard.count:
            raise ValueError(f"{text!r}: I must be 1 to N (1/{shard.count} ... {shard.count}/{shard.count}), "
                             f"not {shard.index}" if shard.count else f"{text!r}: N must be at least 1")
        return shard

    def __str__(self) -> str:
        """As the flag is typed and the `shard` column writes it (`1/4`), so a parsed value reads back the same."""
        return f"{self.index}/{self.count}"

    @property
    def folder(self) -> str:
        """Its folder inside the condition's: `shard-1-of-4`."""
        return f"shard-{self.index}-of-{self.count}"

    def items(self, items) -> list:
        items = list(items)
        n = len(items)
        return items[(self.index - 1) * n // self.count: self.index * n // self.count]


@dataclass(frozen=True)
class Decoding:
    """Decoding settings as a row's columns write them; "" where they do not apply (all of them for
    `logprob`, `samples` outside `sample`)."""

    temperature: str = ""
    max_new_tokens: str = ""
    samples: str = ""


@dataclass(frozen=True)
class RunSpec:
    """One condition of one model, asked one way. `model` is the model as rows record it (a local
    folder's absolute path); `name` the model as given, which names its folder."""

    experiment: Experiment
    steering: str | None = None  # RQ2's steering method
    country: str | None = None
    language: str = ""
    variant: str | None = None  # a sensitivity variant
    group: tuple[str, str] | None = None  # (group_var, group) an RQ2 run was steered toward
    perturbation: Perturbation | None = None
    repeat: int | None = None  # `--repeats`: 2..R; None for the run as it is
    seed: int | None = None  # a repeat's sampling seed (local models only)
    model: str = ""
    method: str = "verbalized"  # how the model was asked; the release asked every model this way
    decoding: Decoding = Decoding()
    protocol: str = "ours"
    release_commit: str = ""
    survey: str = WVS  # an imported survey's name (its `<name>.survey.json`)
    survey_wave: str = WVS_WAVE
    shard: Shard | None = None  # `--shard I/N`: this file holds one slice of the condition's items
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "experiment", Experiment(self.experiment))
        if not self.name:
            object.__setattr__(self, "name", self.model)

    replace = dataclasses.replace

    # -- what the condition is called ------------------------------------------------------
    @property
    def condition(self) -> str | None:
        """The steering method (RQ2), the variant (sensitivity), None for RQ1."""
        return {Experiment.RQ2: self.steering, Experiment.SENSITIVITY: self.variant}.get(self.experiment)

    @property
    def condition_name(self) -> str:
        """The condition as tables name it: RQ1's is `none` (no steering)."""
        return self.condition or NO_STEERING

    @property
    def prompt(self) -> str:
        """`order-3@0` (`#2` added for a repeat): which prompt and draw, "" for the prompt as it is."""
        p = self.perturbation
        name = f"{p.family}-{p.index}@{p.seed}" if p else ""
        return name + (f"#{self.repeat}" if self.repeat else "")

    def key(self) -> tuple:
        """What two files must not share to be scored as different runs of one model."""
        return (self.survey, self.survey_wave, self.experiment, self.condition, self.country or "", self.group,
                self.model, self.prompt)

    def label(self) -> str:
        """`RQ1`, `RQ2 persona/Japan/age=18-29`, `sensitivity order`, with `[order-3@0]` for a member."""
        where = {Experiment.RQ1: "RQ1",
                 Experiment.RQ2: f"RQ2 {self.steering}/{self.country}" + (f"/{'='.join(self.group)}" if self.group
                                                                         else ""),
                 Experiment.SENSITIVITY: f"sensitivity {self.variant}"}[self.experiment]
        survey = "" if self.survey == WVS else f"{self.survey}{' ' + self.survey_wave if self.survey_wave else ''} "
        return survey + where + (f" [{self.prompt}]" if self.prompt else "")

    # -- on disk ----------------------------------------------------------------------------
    def condition_folder(self) -> tuple[str, ...]:
        """The folders before the model's own."""
        base = {Experiment.RQ1: ("RQ1",),
                Experiment.RQ2: ("RQ2", str(self.steering), str(self.country)) + (
                    (f"{self.group[0]}={self.group[1]}",) if self.group else ()),
                Experiment.SENSITIVITY: ("Discussion", "sensitivity", str(self.variant))}[self.experiment]
        if self.perturbation:
            base = ("Robustness", *base, self.perturbation.name)
        if self.repeat:
            base = ("Repeats", *base, f"repeat-{self.repeat}")
        if self.survey != WVS:
            wave = (f"wave-{self.survey_wave.replace(',', '+')}",) if self.survey_wave else ()
            base = ("Surveys", self.survey, *wave, *base)
        return base

    def folder(self) -> PurePosixPath:
        """Under a results root, the model's name checked to stay inside; a shard's is inside its condition's."""
        own = PurePosixPath(*self.condition_folder()) / model_folder(self.name)
        return own / self.shard.folder if self.shard else own

    def columns(self) -> dict[str, str]:
        """The identity columns every row of the file carries, in the file's column order."""
        g, p = self.group or ("", ""), self.perturbation
        return {
            "experiment": str(self.experiment), "model": self.model, "method": self.method,
            "steering_method": self.steering or NO_STEERING, "country": self.country or "",
            "language": self.language, "variant": self.variant or _NO_VARIANT,
            "temperature": self.decoding.temperature, "max_new_tokens": self.decoding.max_new_tokens,
            "samples": self.decoding.samples, "group_var": g[0], "group": g[1], "protocol": self.protocol,
            "release_commit": self.release_commit, "perturb_family": p.family if p else "",
            "perturb_index": str(p.index) if p else "", "perturb_seed": str(p.seed) if p else "",
            "repeat": str(self.repeat) if self.repeat else "", "seed": "" if self.seed is None else str(self.seed),
            "survey": self.survey, "survey_wave": self.survey_wave, "shard": str(self.shard or ""),
        }

    def dry_run_fields(self) -> dict[str, str]:
        """What a `--dry-run` line says of its condition: `columns` without the model's, the decoding's and
        the provenance's, no steering or variant as "", and each part the condition lacks left out."""
        c = self.columns() | {"steering_method": self.steering or "", "variant": self.variant or ""}
        names = ["experiment", "country", "steering_method", "variant"]
        for present, part in ((self.language, ["language"]), (self.group, ["group_var", "group"]),
                              (self.perturbation, ["perturb_family", "perturb_index", "perturb_seed"]),
                              (self.repeat, ["repeat", "seed"]), (self.survey != WVS, ["survey", "survey_wave"]),
                              (self.shard, ["shard"])):
            names += part if present else []
        return {n: c[n] for n in names}

    # -- read back --------------------------------------------------------------------------
    @classmethod
    def from_row(cls, row: dict[str, str]) -> RunSpec:
        """The spec a row of ours records (the inverse of `columns`)."""
        def text(name: str) -> str:
            return row.get(name) or ""

        steering, variant, family = text("steering_method"), text("variant"), text("perturb_family")
        return cls(
            Experiment(row["experiment"]), steering=None if steering in ("", NO_STEERING) else steering,
            country=text("country") or None, language=text("language"),
            variant=None if variant in ("", _NO_VARIANT) else variant,
            group=(text("group_var"), text("group")) if text("group_var") else None,
            perturbation=Perturbation(family, int(text("perturb_index") or 0), int(text("perturb_seed") or 0))
            if family else None,
            repeat=int(text("repeat")) if text("repeat") not in ("", "0") else None,
            seed=int(text("seed")) if text("seed") else None,
            model=row["model"], method=text("method") or "verbalized",
            decoding=Decoding(text("temperature"), text("max_new_tokens"), text("samples")),
            protocol=text("protocol") or "ours", release_commit=text("release_commit"),
            survey=text("survey") or WVS, survey_wave=text("survey_wave") if text("survey") else WVS_WAVE,
            shard=Shard.parse(text("shard")) if text("shard") else None)

    @classmethod
    def from_path(cls, parts: tuple[str, ...]) -> RunSpec | None:
        """The release's files' spec from their folders, e.g. ("RQ2", "persona", "Japan", "gpt-4");
        None outside the paper's layout (`Surveys/<name>/[wave-<w>/]` prefixes it)."""
        if len(parts) >= 3 and parts[0] == "Surveys":
            wave = parts[2][len("wave-"):].replace("+", ",") if parts[2].startswith("wave-") else ""
            inner = cls.from_path(parts[3:] if wave else parts[2:])
            return inner and inner.replace(survey=parts[1], survey_wave=wave)
        if len(parts) >= 2 and parts[0] == "RQ1":
            return cls(Experiment.RQ1, model="/".join(parts[1:]))
        if len(parts) >= 4 and parts[0] == "RQ2":
            return cls(Experiment.RQ2, steering=parts[1], country=parts[2], model="/".join(parts[3:]))
        if len(parts) >= 4 and parts[:2] == ("Discussion", "sensitivity"):
            return cls(Experiment.SENSITIVITY, variant=parts[2], model="/".join(parts[3:]))
        return None


IDENTITY_COLUMNS = tuple(RunSpec(Experiment.RQ1).columns())
