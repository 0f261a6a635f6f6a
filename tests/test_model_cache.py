"""The cache of converted GGUF weights: keyed by the file's hash, written atomically, checked
against its manifest, rebuilt when damaged, and giving the same model as a fresh conversion."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re

import pytest
import torch

from utils.core.errors import UserError
from utils.probing.backends.hf import model_cache
from utils.probing.backends.hf.model_cache import (
    _load_checked,
    _save_entry,
    cache_enabled,
    entry_problem,
    gguf_sha256,
    load_gguf_cached,
)

DIGEST = "ab" * 32


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(model_cache.NO_CACHE_ENV, raising=False)
    return tmp_path / "xdg" / "llm-global-opinion"


# -- the GGUF file's hash: read once, remembered by size and modification time ---------------
def test_hash_is_remembered_until_the_file_changes(tmp_path, cache_home):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"weights")
    assert gguf_sha256(f) == hashlib.sha256(b"weights").hexdigest()
    memo_path = cache_home / "gguf-hashes.json"
    memo = json.loads(memo_path.read_text())
    memo[str(f.resolve())]["sha256"] = "remembered"  # not what the file hashes to: proves no re-read
    memo_path.write_text(json.dumps(memo))
    assert gguf_sha256(f) == "remembered"
    f.write_bytes(b"weightz")  # same size, new modification time
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    assert gguf_sha256(f) == hashlib.sha256(b"weightz").hexdigest()


def test_cache_can_be_switched_off(monkeypatch):
    monkeypatch.setenv(model_cache.NO_CACHE_ENV, "1")
    assert not cache_enabled()
    monkeypatch.setenv(model_cache.NO_CACHE_ENV, "0")
    assert cache_enabled()


# -- entries: checked against their manifest --------------------------------------------------
def fake_entry(folder, files: dict[str, bytes], digest: str = DIGEST):
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = {"format": model_cache.FORMAT, "source": "m.gguf", "source_sha256": digest,
                "files": {n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


FILES = {"config.json": b"{}", "model.safetensors": b"0123456789"}


def test_a_sound_entry_passes(tmp_path):
    assert entry_problem(fake_entry(tmp_path / "e", FILES), DIGEST) is None


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda e: (e / "model.safetensors").unlink(), "model.safetensors is missing"),
    (lambda e: (e / "model.safetensors").write_bytes(b"01234"), "model.safetensors has 5 bytes, not 10"),
    (lambda e: (e / "model.safetensors").write_bytes(b"0123456780"), "model.safetensors does not match its checksum"),
    (lambda e: (e / "manifest.json").unlink(), "no readable manifest"),
    (lambda e: (e / "manifest.json").write_text("{not json"), "no readable manifest"),
])
def test_damage_is_found(tmp_path, damage, reason):
    entry = fake_entry(tmp_path / "e", FILES)
    damage(entry)
    assert entry_problem(entry, DIGEST).startswith(reason)


def test_an_entry_of_another_file_is_not_used(tmp_path):
    assert entry_problem(fake_entry(tmp_path / "e", FILES), "cd" * 32) == "manifest is for another GGUF file or format"
    assert entry_problem(fake_entry(tmp_path / "f", {"config.json": b"{}"}), DIGEST) == \
        "manifest lists no config or weights"


def test_an_entry_of_an_older_layout_is_not_used(tmp_path):
    entry = fake_entry(tmp_path / "e", FILES)
    manifest = json.loads((entry / "manifest.json").read_text())
    (entry / "manifest.json").write_text(json.dumps({**manifest, "format": 1}))
    assert entry_problem(entry, DIGEST) == f"written in an older layout (format 1, now {model_cache.FORMAT})"


# -- reading an entry: the fast tokenizer as saved, tied weights once, checked while loading --
def damage_one_byte(path):
    """One byte changed in the middle, size kept: only the checksum can tell."""
    with open(path, "r+b") as fh:
        fh.seek(path.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))


def test_an_entry_loads_as_the_model_it_was_written_from(tiny_model, tmp_path, monkeypatch):
    from safetensors import safe_open

    tokenizer, model = tiny_model
    entry = tmp_path / "converted" / "x-float32"
    _save_entry(tokenizer, model, entry, DIGEST, "m.gguf")
    assert "tokenizer.json" in json.loads((entry / "manifest.json").read_text())["files"]
    with safe_open(str(entry / "model.safetensors"), "pt") as fh:
        keys = set(fh.keys())
    # tied output layer: stored once, under the name the loader reads, so nothing is missing
    assert "model.embed_tokens.weight" in keys and "lm_head.weight" not in keys
    filled = []  # random initialisation of real memory while loading: none (only the meta skeleton's)
    normal_ = torch.Tensor.normal_
    monkeypatch.setattr(torch.Tensor, "normal_",
                        lambda t, *a, **k: (filled.append(t.shape) if t.device.type != "meta" else None,
                                            normal_(t, *a, **k))[1])
    (tok, loaded), problem = _load_checked(entry, DIGEST, dtype="float32", quiet=True)
    monkeypatch.undo()
    assert filled == []
    assert problem is None and tok.is_fast and tok.get_vocab() == tokenizer.get_vocab()
    assert tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False) == \
        tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False)
    assert loaded.lm_head.weight.data_ptr() == loaded.model.embed_tokens.weight.data_ptr()
    assert model.state_dict().keys() == loaded.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_a_model_read_from_a_damaged_entry_is_not_returned(tiny_model, tmp_path):
    tokenizer, model = tiny_model
    entry = tmp_path / "converted" / "x-float32"
    _save_entry(tokenizer, model, entry, DIGEST, "m.gguf")
    damage_one_byte(entry / "model.safetensors")  # it still loads: only the check running beside it tells
    loaded, problem = _load_checked(entry, DIGEST, dtype="float32", quiet=True)
    assert loaded is None and problem == "model.safetensors does not match its checksum"
    (entry / "config.json").write_text("{not json")  # now loading fails too: the check says why
    loaded, problem = _load_checked(entry, DIGEST, dtype="float32", quiet=True)
    assert loaded is None and problem.startswith("config.json")


def test_a_sound_entry_that_fails_to_load_raises_the_loaders_error(tiny_model, tmp_path):
    tokenizer, model = tiny_model
    entry = tmp_path / "converted" / "x-float32"
    _save_entry(tokenizer, model, entry, DIGEST, "m.gguf")
    with pytest.raises(UserError, match="--dtype 'float8'"):
        _load_checked(entry, DIGEST, dtype="float8", quiet=True)


# -- writing an entry: all or nothing ---------------------------------------------------------
def test_a_failed_write_leaves_nothing_under_the_entry_name(tiny_model, tmp_path):
    _, model = tiny_model
    entry = tmp_path / "converted" / "x-float32"
    with pytest.raises(AttributeError):
        _save_entry(None, model, entry, DIGEST, "m.gguf")  # dies after the weights, before the tokenizer
    assert list((tmp_path / "converted").iterdir()) == []


def test_a_second_writer_keeps_the_first_entry(tiny_model, tmp_path):
    tokenizer, model = tiny_model
    entry = tmp_path / "converted" / "x-float32"
    _save_entry(tokenizer, model, entry, DIGEST, "m.gguf")
    first = (entry / "manifest.json").read_text()
    _save_entry(tokenizer, model, entry, DIGEST, "m.gguf")  # another process, same file: no error
    assert (entry / "manifest.json").read_text() == first and entry_problem(entry, DIGEST) is None
    assert [p.name for p in entry.parent.iterdir()] == ["x-float32"]  # no temporary folder left


# -- the bundled model end to end -------------------------------------------------------------
def next_token_logprobs(tokenizer, model) -> torch.Tensor:
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Answer 1, 2 or 10."}], tokenize=False,
                                         add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        return torch.log_softmax(model(ids).logits[0], dim=-1)


@pytest.mark.slow
def test_bundled_model_is_converted_once_then_read_from_the_cache(cache_home, caplog, capsys):
    from utils.probing.backends.hf.bundled import BUNDLED_GGUF, bundled_model_dir

    folder = bundled_model_dir()
    caplog.set_level(logging.INFO, logger="utils.probing.backends.hf.model_cache")

    converted = load_gguf_cached(folder, BUNDLED_GGUF, quiet=True)
    assert "converting SmolLM2-135M-Instruct.Q4_1.gguf" in caplog.text
    [entry] = (cache_home / "converted").iterdir()
    told = capsys.readouterr().err.splitlines()  # a first start says what it does, where, and how long
    assert told[0] == (f"first start of {BUNDLED_GGUF}: converting it to float32 weights once, into {entry} "
                       f"({model_cache.FIRST_START_NOTE}); later starts read them in seconds")
    assert re.fullmatch(rf"converted {re.escape(BUNDLED_GGUF)} in \d+ s; kept in {re.escape(str(entry))}", told[1])
    assert entry.name.startswith(gguf_sha256(folder / BUNDLED_GGUF)[:32]) and entry_problem(entry, gguf_sha256(
        folder / BUNDLED_GGUF)) is None
    expected = next_token_logprobs(*converted)
    del converted

    caplog.clear()
    cached = load_gguf_cached(folder, BUNDLED_GGUF, quiet=True)
    assert "loading converted weights" in caplog.text and "converting" not in caplog.text
    assert capsys.readouterr().err == ""  # a later start is silent
    assert torch.equal(next_token_logprobs(*cached), expected)  # the same numbers, bit for bit
    del cached

    damage_one_byte(entry / "model.safetensors")
    caplog.clear()
    rebuilt = load_gguf_cached(folder, BUNDLED_GGUF, quiet=True)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "model.safetensors does not match its checksum" in warnings[0].getMessage()
    assert "converting" in caplog.text and entry_problem(entry, gguf_sha256(folder / BUNDLED_GGUF)) is None
    assert torch.equal(next_token_logprobs(*rebuilt), expected)

