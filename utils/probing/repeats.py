"""`--repeats R`: R independent answers per item, each repeat its own condition, with its seed.

Why: a model sampled at a temperature above 0 (`verbalized` at `--temperature` > 0, `sample` at
`--sample-temperature` > 0) gives another answer when asked again, and that spread belongs next to
the prompt's. Repeat 1 is the run as it is (its rows and folder unchanged); repeats 2..R go to
`Repeats/<condition's folder>/repeat-<r>` with the identity columns `repeat` (r) and `seed`. A local
model draws repeat r with the torch seed r - 1 (`HFProber.reseed`), so repeat 1 is the plain run's
seed 0 and every repeat can be drawn again; an API server draws as it does (no seed is sent, and
`seed` stays empty). `logprob` reads one forward pass and has nothing to repeat.

    conditions [RQ1], R = 3  ->  [RQ1, Repeats/RQ1/repeat-2 (seed 1), Repeats/RQ1/repeat-3 (seed 2)]
"""
from __future__ import annotations

from dataclasses import replace

from utils.core.errors import UserError
from utils.probing.conditions import Condition
from utils.probing.config import ProbeConfig


def repeated(conditions: list[Condition], config: ProbeConfig) -> list[Condition]:
    """Each condition, then its repeats 2..R (`config.repeats`); a one-line error where repeats
    would only copy the same answer."""
    if config.repeats <= 1:
        return conditions
    temperature = config.sample_temperature if config.method == "sample" else config.temperature
    if config.method == "logprob" or temperature <= 0:
        raise UserError("--repeats asks again for independent answers, which needs --method verbalized with "
                        "--temperature above 0, or --method sample with --sample-temperature above 0")
    seeded = config.backend.kind == "local"
    out = []
    for cond in conditions:
        out.append(cond)
        out += [replace(cond, spec=cond.spec.replace(repeat=r, seed=r - 1 if seeded else None))
                for r in range(2, config.repeats + 1)]
    return out
