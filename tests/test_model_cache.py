"""The cache of converted GGUF weights: keyed by the file's hash, written atomically, checked
against its manifest, rebuilt when damaged, and giving the same model as a fresh conversion."""
from __future__ import annotations

import hashlib
import json
import logging
import os

import pytest
import torch

from utils.probing import model_cache
from utils.probing.model_cache import _save_entry, cache_enabled, entry_problem, gguf_sha256, load_gguf_cached

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
def test_bundled_model_is_converted_once_then_read_from_the_cache(cache_home, caplog):
    from utils.probing.bundled_model import BUNDLED_GGUF, bundled_model_dir

    folder = bundled_model_dir()
    caplog.set_level(logging.INFO, logger="utils.probing.model_cache")

    converted = load_gguf_cached(folder, BUNDLED_GGUF, quiet=True)
    assert "converting SmolLM2-135M-Instruct.Q4_1.gguf" in caplog.text
    [entry] = (cache_home / "converted").iterdir()
    assert entry.name.startswith(gguf_sha256(folder / BUNDLED_GGUF)[:32]) and entry_problem(entry, gguf_sha256(
        folder / BUNDLED_GGUF)) is None
    expected = next_token_logprobs(*converted)
    del converted

    caplog.clear()
    cached = load_gguf_cached(folder, BUNDLED_GGUF, quiet=True)
    assert "loading converted weights" in caplog.text and "converting" not in caplog.text
    assert torch.equal(next_token_logprobs(*cached), expected)  # the same numbers, bit for bit
    del cached

    weights = entry / "model.safetensors"  # one byte changed, size kept: only the checksum can tell
    with open(weights, "r+b") as fh:
        fh.seek(weights.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))
    caplog.clear()
    rebuilt = load_gguf_cached(folder, BUNDLED_GGUF, quiet=True)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "model.safetensors does not match its checksum" in warnings[0].getMessage()
    assert "converting" in caplog.text and entry_problem(entry, gguf_sha256(folder / BUNDLED_GGUF)) is None
    assert torch.equal(next_token_logprobs(*rebuilt), expected)

