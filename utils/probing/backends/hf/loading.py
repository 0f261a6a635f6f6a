"""Loading a local Hugging Face model, with checks that turn slow failures into one line before any
weights are read."""
from __future__ import annotations

import contextlib
import functools
import logging
import re
import sys
from pathlib import Path

from utils.core.errors import UserError
from utils.probing.probe_config import DTYPES  # torch is imported only to load

log = logging.getLogger(__name__)
DEVICE_ALIASES = {"gpu": "cuda"}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def torch_dtype(name: str):
    """`"bfloat16"` -> `torch.bfloat16`; `"auto"` stays `"auto"` (the checkpoint's own dtype)."""
    import torch

    if name not in DTYPES:
        raise UserError(f"--dtype {name!r}: use one of {', '.join(DTYPES)}")
    return name if name == "auto" else getattr(torch, name)


def resolve_device(device: str) -> str:
    """`cpu`, `cuda`, `cuda:1`, `mps` (`gpu`: `cuda`), checked against this machine before anything loads.

    >>> resolve_device("GPU")   # on a machine with CUDA
    'cuda'
    """
    import torch

    name = DEVICE_ALIASES.get(device.strip().lower(), device.strip().lower())
    kind, _, index = name.partition(":")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"--device {device}: this machine has no CUDA GPU that torch can use "
                            f"(torch {torch.__version__}); use --device cpu")
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise UserError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                            f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    elif kind == "mps":
        if not torch.backends.mps.is_available():
            raise UserError(f"--device {device}: MPS (Apple GPU) is not available here; use --device cpu")
    elif kind != "cpu":
        raise UserError(f"--device {device!r} is not a device: use cpu, cuda (or gpu), cuda:1 or mps")
    return name


def check_source(path: str | Path, gguf_file: str | None = None) -> tuple[str, bool]:
    """Returns (path or hub id, whether it is a hub id from the cache). A folder must exist and a hub id
    be cached already: left to transformers, a missing one retries the network for about a minute."""
    text = str(path)
    if Path(text).expanduser().exists():
        folder = Path(text).expanduser()
        if gguf_file and not (folder / gguf_file).is_file():
            raise UserError(f"{folder} has no GGUF file {gguf_file}")
        return str(folder), False
    if not HUB_ID.match(text) or text.startswith((".", "/", "~")):
        raise UserError(f"no model folder {text}: give an existing folder or a hub id like owner/name")
    from huggingface_hub import constants, try_to_load_from_cache

    found = try_to_load_from_cache(text, gguf_file or "config.json")
    if not isinstance(found, str):
        raise UserError(f"{text} is neither a folder nor a model in the Hugging Face cache ({constants.HF_HUB_CACHE}); "
                        f"download it first where there is internet (`hf download {text}`) or give a local folder")
    return text, True


@contextlib.contextmanager
def quiet_loading(quiet: bool):
    """Progress bars and chatter of transformers and huggingface_hub off while loading, when `quiet`
    or when stderr is not a terminal (a log file, where every bar redraw becomes a line)."""
    if not quiet and sys.stderr.isatty():
        yield
        return
    import transformers
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    was = transformers.logging.get_verbosity()
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    disable_progress_bars()
    # GGUF conversion draws its own tqdm bar, outside transformers' switch: off the same way.
    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    gguf_tqdm = getattr(gguf_utils, "tqdm", None)
    if gguf_tqdm is not None:
        gguf_utils.tqdm = functools.partial(gguf_tqdm, disable=True)
    try:
        yield
    finally:
        if gguf_tqdm is not None:
            gguf_utils.tqdm = gguf_tqdm
        transformers.logging.set_verbosity(was)
        if bars:
            transformers.utils.logging.enable_progress_bar()
            enable_progress_bars()


@contextlib.contextmanager
def hub_offline(on: bool):
    """`HF_HUB_OFFLINE=1` while loading a cached model: `local_files_only` alone still lets huggingface_hub
    wait on the network (a registry fetch for its user-agent header)."""
    if not on:
        yield
        return
    from huggingface_hub import constants

    was = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = was


def load_model(path: str | Path, *, gguf_file: str | None = None, device: str = "cpu",
               dtype: str = "auto", device_map: str | None = None, quiet: bool = False):
    """Tokenizer and model in eval mode on `device`; GGUF weights load as float32 unless `dtype` says."""
    source, from_hub = check_source(path, gguf_file)
    device = resolve_device(device)
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        with quiet_loading(quiet), hub_offline(from_hub):
            tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            model = AutoModelForCausalLM.from_pretrained(
                source, dtype=torch_dtype("float32" if dtype == "auto" and gguf_file else dtype),
                device_map=device_map, **kwargs)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load model {path}: {str(exc).splitlines()[0]}") from None
    if device_map is None:
        model.to(device)
    model.eval()
    return tokenizer, model
