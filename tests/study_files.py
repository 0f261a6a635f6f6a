"""The parts of a study file the tests share: where a study writes (under the test's tmp_path), how
it asks, and an API model behind a test server."""
from __future__ import annotations

from pathlib import Path

# RQ1 and one RQ2 condition (persona toward Japan), scored against small synthetic human data
RQ1_AND_JAPAN = ('[experiments.RQ1]\n\n[experiments.RQ2]\ncountries = ["Japan"]\nsteering_methods = ["persona"]\n\n'
                 '[human]\nsynthetic = true\nrespondents = 60\n\n')


def head(tmp_path: Path, name: str | None = None, limit: int = 4, quiet: bool = True) -> str:
    """[study] (when named), [output] and [probe]: verbalized, the first `limit` items."""
    study = f'[study]\nname = "{name}"\n\n' if name else ""
    return study + (f'[output]\nresults_root = "{tmp_path}/results"\nfigures = "{tmp_path}/figures"\n'
                    f'report = "{tmp_path}/report.html"\nhuman_dir = "{tmp_path}/human"\n\n'
                    f'[probe]\nmethods = ["verbalized"]\nlimit = {limit}\n' + ("quiet = true\n" if quiet else "")
                    + "\n")


def api_model(base_url: str, name: str = "model-a", more: str = "") -> str:
    """One [[models]] entry asking `name` at `base_url`; `more`: further keys, one per line."""
    return (f'[[models]]\nname = "{name}"\nbackend = "api"\nmodel_name_or_path = "{name}"\nbase_url = "{base_url}"\n'
            + (more.strip() + "\n" if more.strip() else "") + "\n")
