"""The backend for local Hugging Face causal language models; importing this package imports neither
torch nor transformers."""
from __future__ import annotations

from collections.abc import Callable

from utils.probing.probe_config import ProbeConfig


def hf_backend(config: ProbeConfig, special_tokens: bool = False) -> tuple[str, Callable]:
    """(model name for the results folder, a function that loads the model); nothing is loaded yet.
    `special_tokens`: see `HFBackend` (the release protocol's tokenization)."""
    from utils.probing.backends.hf.bundled import BUNDLED_NAME

    local, path = config.backend, config.model_name_or_path

    def make():
        from utils.probing.backends.hf.backend import HFBackend
        from utils.probing.backends.hf.bundled import load_bundled_model
        from utils.probing.backends.hf.loading import load_model

        where = dict(device=local.device, dtype=local.dtype, device_map=local.device_map, quiet=config.quiet)
        if path is None:
            tokenizer, model = load_bundled_model(**where, use_cache=False if local.no_model_cache else None)
        else:
            tokenizer, model = load_model(path, gguf_file=local.gguf_file, **where)
        return HFBackend(model, tokenizer, prefix_cache=not local.no_prefix_cache, batch_size=local.batch_size,
                         special_tokens=special_tokens)

    return BUNDLED_NAME if path is None else path, make


def check_local_model(config: ProbeConfig, local_rank: int | None = None) -> ProbeConfig:
    """The model is there and the device exists, before anything is loaded; returns the config with
    the device as torch names it (`gpu` -> `cuda`, recorded in `run_meta.json`). With `local_rank` a
    bare `cuda` becomes `cuda:<local_rank>`, so a launched run's processes do not share the first GPU."""
    from utils.probing.backends.hf.bundled import bundled_model_dir
    from utils.probing.backends.hf.loading import check_source, resolve_device

    if config.model_name_or_path is None:
        bundled_model_dir()
    else:
        check_source(config.model_name_or_path, config.backend.gguf_file)
    device = resolve_device(config.backend.device)
    if local_rank is not None and device == "cuda":
        device = f"cuda:{local_rank}"
    return config.replace_backend(device=device)
