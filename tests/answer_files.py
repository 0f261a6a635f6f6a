"""Results files of fixed answers, in our schema, for tests of the analyses.

One writer, so every test that scores answers it chose itself writes the same columns the probers
write (docs/results-format.md), and a new identity column is added in one place.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

COLUMNS = ["id", "question", "choices", "choice_keys", "answer", "type", "response", "distribution", "method",
           "status", "experiment", "model", "steering_method", "country", "language", "variant",
           "perturb_family", "perturb_index", "perturb_seed"]


def write_answers(folder: Path, items, dists, listings=None, **labels: str) -> Path:
    """`folder/results.csv`: one `logprob` row per item of four options coded 1-4, with the
    distribution `dists[i]` over codes 1..4, the options listed as `listings[i]` (default 1..4),
    and the identity columns `labels` (experiment, model, steering_method, country, language,
    variant, perturb_family, perturb_index, perturb_seed; blank where not given)."""
    folder = Path(folder)
    folder.mkdir(parents=True)
    path = folder / "results.csv"
    listings = listings or [("1", "2", "3", "4")] * len(items)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, COLUMNS, restval="")
        w.writeheader()
        for q, d, keys in zip(items, dists, listings):
            w.writerow({"id": q, "question": "?", "choices": repr(["a"] * 4), "choice_keys": repr(list(keys)),
                        "answer": "", "type": "Opinion-Dependent", "response": "",
                        "distribution": json.dumps({str(k + 1): float(d[k]) for k in range(4)}),
                        "method": "logprob", "status": "ok", "language": "English", "variant": "default", **labels})
    return path
