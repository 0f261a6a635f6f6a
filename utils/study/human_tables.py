"""Human data for a study: the prepared WVS tables it names, or synthetic ones made into its
`human_dir` as `dataset/make_synthetic_wvs.py` + `prepare_wvs.py` would, once: a table whose
`.meta.json` records the same respondents, seed and groups is kept."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

from utils.core.human.microdata import meta_path, table_meta
from utils.core.human.prepare import WaveFile, prepare, write_synthetic
from utils.study.study_file import HumanSpec


def prepare_human(spec: HumanSpec, log=print) -> dict[int, Path]:
    """The study's tables by wave, making synthetic ones where the study asks for them."""
    if not spec.synthetic:
        for wave, table in spec.tables.items():
            if not table.is_file():
                log(f"human data: {table} (wave {wave}) not found; analyses that need it are skipped. "
                    f"Prepare it with: python dataset/prepare_wvs.py --wave {wave} --input <WVS file> --output {table}")
        return dict(spec.tables)
    for wave, table in spec.tables.items():
        stamp = {"wave": wave, "respondents": spec.respondents, "seed": spec.seed}
        if spec.groups:  # a table made without the groups asked for now is made again
            stamp |= {"groups": list(spec.groups), "min_group_n": spec.min_group_n}
        meta = table_meta(table)
        if table.is_file() and meta.get("synthetic") and meta.get("study_synthetic") == stamp:
            continue
        raw, _ = write_synthetic(wave, table.parent / "raw" / f"synthetic_WV{wave}.csv", spec.respondents,
                                 seed=spec.seed)
        prepare(WaveFile(wave, raw, table, groups=",".join(spec.groups) or None, min_group_n=spec.min_group_n))
        meta_path(table).write_text(json.dumps({**table_meta(table), "study_synthetic": stamp}, indent=2) + "\n",
                                    encoding="utf-8")
        raw.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # only when empty
            raw.parent.rmdir()
        log(f"human data: made synthetic wave {wave} ({spec.respondents} respondents per country, seed {spec.seed}) "
            f"-> {table}")
    return dict(spec.tables)
