"""`--repeats R`: R independent answers per item, each repeat its own condition, with its seed.

A model sampled above temperature 0 gives another answer when asked again, and that spread belongs
next to the prompt's. Repeat 1 is the run as it is; repeats 2..R go to
`Repeats/<condition's folder>/repeat-<r>`. A local model draws repeat r from seed r - 1, so every
repeat can be drawn again; an API server draws as it does (`seed` stays empty).

    conditions [RQ1], R = 3  ->  [RQ1, Repeats/RQ1/repeat-2 (seed 1), Repeats/RQ1/repeat-3 (seed 2)]
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from utils.core.errors import UserError

if TYPE_CHECKING:
    from utils.probing.grid import Plan


def repeated(plan: Plan, repeats: int, seeded: bool) -> Plan:
    """The plan with each condition followed by its repeats 2..R; a one-line error where repeats
    would only copy the same answer (`seeded`: the backend draws from seeds of its own)."""
    if repeats <= 1:
        return plan
    if plan.method.name == "logprob" or plan.method.temperature <= 0:
        if plan.protocol == "release":
            raise UserError("--repeats asks again for independent answers, but the release decodes greedily "
                            "(temperature 0), so every repeat would copy the first; leave out --repeats")
        raise UserError("--repeats asks again for independent answers, which needs --method verbalized with "
                        "--temperature above 0, or --method sample with --sample-temperature above 0")
    out = []
    for cond in plan.conditions:
        out.append(cond)
        out += [replace(cond, spec=cond.spec.replace(repeat=r, seed=r - 1 if seeded else None))
                for r in range(2, repeats + 1)]
    return replace(plan, conditions=out)
