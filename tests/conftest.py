"""Shared fixtures: a real local OpenAI-protocol server, a tiny real model, the reference data."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

REFERENCE = ROOT.parent / "shared" / "reference" / "paper-release"


@pytest.fixture
def reference() -> Path:
    """The original release's files; tests that need them skip when they are absent."""
    if not REFERENCE.is_dir():
        pytest.skip("../shared/reference/paper-release is not present")
    return REFERENCE


@pytest.fixture
def server():
    from openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer Llama with random weights and the bundled model's real tokenizer and chat
    template, saved like any Hugging Face model folder (built once per test session)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from utils.probing.backends.hf.bundled import BUNDLED_GGUF, bundled_model_dir

    out = tmp_path_factory.mktemp("tiny-llama")
    tok = AutoTokenizer.from_pretrained(str(bundled_model_dir()), gguf_file=BUNDLED_GGUF)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():  # larger logits than the default init, so options differ clearly
        model.lm_head.weight.mul_(20)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from utils.probing.backends.hf.loading import load_model

    return load_model(tiny_model_dir)
