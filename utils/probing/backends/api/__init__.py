"""The backend for OpenAI-compatible chat-completions servers (OpenAI, DeepSeek, vLLM, llama.cpp):
`backend.py` (requests, retries, concurrency) and `wire.py` (payloads and replies, pure)."""
from __future__ import annotations

from collections.abc import Callable

from utils.probing.probe_config import ProbeConfig


def clients(config: ProbeConfig) -> list:
    """One client per `--base_url` (replicas of the model), or OpenAI's / DeepSeek's; a one-line
    UserError naming the key's variable if it is not set."""
    from utils.probing.backends.api.backend import make_client, resolve_endpoint

    api = config.backend
    return [make_client(resolve_endpoint(config.model_name_or_path, url, api.api_key_env), api.timeout)
            for url in api.base_url or (None,)]


def api_backend(config: ProbeConfig) -> tuple[str, Callable]:
    """(model name for the results folder, a function that makes the backend); nothing is sent."""
    from utils.probing.backends.api.backend import ApiBackend

    def make() -> ApiBackend:
        return ApiBackend(clients(config), config.model_name_or_path, concurrency=config.concurrency,
                          max_retries=config.backend.max_retries)

    return config.model_name_or_path, make


def check_key(config: ProbeConfig) -> None:
    """The key the server needs is set (a one-line UserError naming its variable if not)."""
    clients(config)
