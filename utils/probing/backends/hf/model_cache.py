"""Converted GGUF weights kept in the user's cache, so only the first start pays for conversion.

transformers reads a GGUF file by dequantizing every tensor and converting the tokenizer (about a
minute on two cores). The model (safetensors) and fast tokenizer are saved once, under

    $XDG_CACHE_HOME/llm-global-opinion/converted/<sha256 of the GGUF>-<dtype>/   (default ~/.cache)

An entry is built in a temporary folder and moved into place with one `os.replace`, so a crash or a
second process never leaves half an entry under its name. Its `manifest.json` lists every file's size
and sha256; an entry that does not match is rebuilt with a warning. The check runs in a thread while
the entry loads (hashing releases the GIL), so it costs almost no wall time.
`LLM_GLOBAL_OPINION_NO_CACHE=1` (or `--no-model-cache`) converts every time.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from utils.core.atomic import sha256_file, write_json
from utils.probing.backends.hf.loading import load_model  # imports neither torch nor transformers until it loads

log = logging.getLogger(__name__)
APP = "llm-global-opinion"
NO_CACHE_ENV = "LLM_GLOBAL_OPINION_NO_CACHE"
MANIFEST = "manifest.json"
FORMAT = 2  # bump when the layout of an entry changes (2: a tied weight stored under its loader's name)
# What the first start of the bundled model takes on two CPU cores (measured: docs/performance.md).
FIRST_START_NOTE = "about 1 minute on 2 CPU cores, 2-3 minutes on a busy machine"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / APP


def cache_enabled() -> bool:
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() in ("", "0", "false", "no")


def gguf_sha256(path: Path, root: Path | None = None) -> str:
    """The file's sha256, read again only when its size or modification time changed (`gguf-hashes.json`)."""
    path, memo_path = Path(path).resolve(), (root or cache_root()) / "gguf-hashes.json"
    st = path.stat()
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    seen = memo.get(str(path), {})
    if seen.get("size") == st.st_size and seen.get("mtime_ns") == st.st_mtime_ns and seen.get("sha256"):
        return seen["sha256"]
    digest = sha256_file(path)
    memo[str(path)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    try:
        write_json(memo_path, memo)
    except OSError as exc:  # a read-only cache costs a re-hash next time, nothing else
        log.warning("could not remember the hash of %s: %s", path.name, exc)
    return digest


def entry_problem(entry: Path, digest: str) -> str | None:
    """Why `entry` cannot be used (None: it can): checked against its manifest."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"no readable manifest ({type(exc).__name__})"
    if manifest.get("source_sha256") != digest:
        return "manifest is for another GGUF file or format"
    if manifest.get("format") != FORMAT:
        return f"written in an older layout (format {manifest.get('format')}, now {FORMAT})"
    if "config.json" not in files or not any(name.endswith(".safetensors") for name in files):
        return "manifest lists no config or weights"
    for name, want in files.items():
        path = entry / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != want["size"]:
            return f"{name} has {path.stat().st_size} bytes, not {want['size']}"
        if sha256_file(path) != want["sha256"]:
            return f"{name} does not match its checksum"
    return None


def _untied_state(model) -> dict:
    """Each shared tensor once, under its first name: a tied `lm_head.weight` is stored as
    `model.embed_tokens.weight`, which transformers loads and ties (under `lm_head.weight` it would
    fill the embeddings with random numbers first: ~0.4 s a start)."""
    tensors, seen = {}, set()
    for name, tensor in model.state_dict().items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if key not in seen:
            seen.add(key)
            tensors[name] = tensor.contiguous()
    return tensors


def _save_entry(tokenizer, model, entry: Path, digest: str, source: str) -> None:
    from safetensors.torch import save_file

    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}.building-"))
    try:
        # The dequantized weights as plain safetensors. `save_pretrained` refuses a model that
        # came from a GGUF file (its quantizer is marked not serializable), so the parts are
        # written one by one; the config drops the GGUF quantization note.
        config = copy.deepcopy(model.config)
        config.__dict__.pop("quantization_config", None)
        config.save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        save_file(_untied_state(model), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        tokenizer.save_pretrained(tmp)  # tokenizer.json: later starts read it, nothing is rebuilt
        files = {p.name: {"size": p.stat().st_size, "sha256": sha256_file(p)}
                 for p in sorted(tmp.iterdir()) if p.is_file()}
        write_json(tmp / MANIFEST, {"format": FORMAT, "source": source, "source_sha256": digest,
                                            "dtype": str(model.dtype).removeprefix("torch."), "files": files})
        try:
            os.replace(tmp, entry)
        except OSError:  # another process put a complete entry there first: keep theirs
            if entry_problem(entry, digest) is not None:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _discard(entry: Path) -> None:
    """Move a damaged entry out of the way first, so its name is free even if deleting fails."""
    trash = entry.with_name(f".{entry.name}.damaged-{os.getpid()}")
    try:
        os.replace(entry, trash)
    except OSError:
        trash = entry
    shutil.rmtree(trash, ignore_errors=True)


def _load_checked(entry: Path, digest: str, **load):
    """`entry` loaded while a thread checks its manifest: (loaded or None, problem)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cache-check") as pool:
        checking = pool.submit(entry_problem, entry, digest)
        try:
            loaded, error = load_model(entry, **load), None
        except Exception as exc:  # noqa: BLE001 - a damaged file fails in any way the loader has; see below
            loaded, error = None, exc
        problem = checking.result()
    if problem is None and error is not None:  # the entry is sound: the failure is not the cache's
        raise error
    return (loaded if problem is None else None), problem


def _tell(line: str) -> None:
    """One line on stderr whatever the log level: a first start is silent for a minute otherwise."""
    print(line, file=sys.stderr, flush=True)


def load_gguf_cached(folder: Path, gguf_file: str, *, device: str = "cpu", dtype: str = "auto",
                     device_map: str | None = None, quiet: bool = False, use_cache: bool | None = None):
    """From the cache when it holds a sound entry, else converted from the GGUF file and kept."""
    if use_cache is None:
        use_cache = cache_enabled()
    convert = dict(gguf_file=gguf_file, device=device, dtype=dtype, device_map=device_map, quiet=quiet)
    if not use_cache:
        return load_model(folder, **convert)
    root = cache_root()
    digest = gguf_sha256(Path(folder) / gguf_file, root)
    target = "float32" if dtype == "auto" else dtype
    entry = root / "converted" / f"{digest[:32]}-{target}"
    if entry.is_dir():
        log.info("loading converted weights of %s from %s", gguf_file, entry)
        loaded, problem = _load_checked(entry, digest, device=device, dtype=target, device_map=device_map,
                                        quiet=quiet)
        if problem is None:
            return loaded
        del loaded
        log.warning("cached weights of %s at %s cannot be used (%s); converting the GGUF file again",
                    gguf_file, entry, problem)
        _discard(entry)
    log.info("converting %s (once; later starts read %s)", gguf_file, entry)
    _tell(f"first start of {gguf_file}: converting it to {target} weights once, into {entry} "
          f"({FIRST_START_NOTE}); later starts read them in seconds")
    start = time.monotonic()
    tokenizer, model = load_model(folder, **convert)
    try:
        _save_entry(tokenizer, model, entry, digest, gguf_file)
    except (OSError, ValueError, RuntimeError) as exc:
        log.warning("could not keep the converted weights in %s (%s); the next start converts again", entry, exc)
    else:
        _tell(f"converted {gguf_file} in {time.monotonic() - start:.0f} s; kept in {entry}")
    return tokenizer, model
