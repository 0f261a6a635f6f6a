"""Loading checks that fail in one line before any weights are read, and quiet loading.

Run on this CPU-only machine: the device tests skip where torch sees a CUDA GPU.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from utils.core.errors import UserError
from utils.probing.backends.hf.loading import check_source, load_model, resolve_device

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "code" / "RQ1" / "prob_by_llm.py"
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def run_script(*args: str, env: dict | None = None, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env={**os.environ, **(env or {})})
    return proc, time.monotonic() - start


@pytest.mark.parametrize(("given", "expected"), [("cpu", "cpu"), ("CPU", "cpu"), (" cpu ", "cpu")])
def test_cpu_names(given, expected):
    assert resolve_device(given) == expected


@pytest.mark.parametrize("bad", ["tpu", "cuda0", "npu:1"])
def test_unknown_device_is_one_line_naming_the_choices(bad):
    with pytest.raises(UserError, match="is not a device: use cpu, cuda \\(or gpu\\), cuda:1 or mps"):
        resolve_device(bad)


@no_cuda
@pytest.mark.parametrize("device", ["gpu", "GPU", "cuda", "cuda:1"])
def test_gpu_without_cuda_is_one_line(device):
    with pytest.raises(UserError) as exc:
        resolve_device(device)
    message = str(exc.value)
    assert message.startswith(f"--device {device}: this machine has no CUDA GPU") and message.endswith("use --device cpu")
    assert "\n" not in message


@no_cuda
def test_script_with_device_gpu_stops_before_loading(tmp_path):
    proc, _ = run_script("--device", "gpu", "--limit", "1", "--results-root", str(tmp_path / "results"), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: --device gpu: this machine has no CUDA GPU that torch can use (torch {torch.__version__}); "
        "use --device cpu"]
    assert not (tmp_path / "results").exists()  # nothing written, nothing loaded


class CountingProxy:
    """A TCP listener standing in for a proxy: counts connections, answers none. With it as
    HTTPS_PROXY/HTTP_PROXY, any attempt to reach the hub shows up in `connections`."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


def test_hub_id_not_in_the_cache_fails_at_once_without_the_network(tmp_path):
    proxy = CountingProxy()
    env = {"HF_HOME": str(tmp_path / "hf"), "HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url,
           "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0"}
    proc, seconds = run_script("--model_name_or_path", "nobody-here/made-up-model", "--limit", "1",
                               "--results-root", str(tmp_path / "results"), env=env, cwd=tmp_path)
    proxy.sock.close()
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: nobody-here/made-up-model is neither a folder nor a model in the Hugging Face cache "
        f"({tmp_path / 'hf' / 'hub'}); download it first where there is internet (`hf download "
        "nobody-here/made-up-model`) or give a local folder"]
    assert proxy.connections == 0 and not (tmp_path / "results").exists()
    assert seconds < 10, f"took {seconds:.1f}s"


def test_missing_folder_is_one_line(tmp_path):
    with pytest.raises(UserError, match="no model folder ./nowhere/model: give an existing folder or a hub id"):
        check_source("./nowhere/model")
    (tmp_path / "m").mkdir()
    with pytest.raises(UserError, match="has no GGUF file x.gguf"):
        check_source(tmp_path / "m", "x.gguf")


def cache_copy(model_dir: Path, hf_home: Path, repo: str) -> None:
    """Lay `model_dir` out as the Hugging Face cache does after a download of `repo`."""
    folder = hf_home / "hub" / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("0" * 40)
    shutil.copytree(model_dir, folder / "snapshots" / ("0" * 40))


def test_cached_hub_id_loads_from_the_cache_only(tiny_model_dir, tmp_path):
    cache_copy(tiny_model_dir, tmp_path / "hf", "someone/tiny")
    proxy = CountingProxy()
    code = ("from utils.probing.backends.hf.loading import load_model; tok, m = load_model('someone/tiny'); "
            "print(type(m).__name__, m.device)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "HF_HOME": str(tmp_path / "hf"), "HTTPS_PROXY": proxy.url,
                               "HTTP_PROXY": proxy.url, "HF_HUB_OFFLINE": "0"})
    proxy.sock.close()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "LlamaForCausalLM cpu" and proxy.connections == 0


def test_loading_draws_no_progress_bar_into_a_log(tiny_model_dir, tmp_path):
    """stderr is a pipe here, as when a run's output goes to a log file: no bar, with or
    without --quiet (transformers draws 'Loading weights: 100%|...' otherwise)."""
    code = ("import sys; from utils.probing.backends.hf.loading import load_model; "
            f"load_model({str(tiny_model_dir)!r}, quiet=sys.argv[1] == 'quiet')")
    for mode in ("quiet", "loud"):
        proc = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, timeout=300,
                              cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        assert "Loading weights" not in proc.stderr and "it/s" not in proc.stderr, (mode, proc.stderr)


def test_quiet_loading_is_silent_in_process(tiny_model_dir, capfd):
    load_model(tiny_model_dir, quiet=True)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
