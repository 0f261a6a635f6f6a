"""The backend for OpenAI-compatible chat-completions servers (OpenAI, DeepSeek, vLLM, llama.cpp):
`backend.py` (requests, retries, concurrency) and `wire.py` (payloads and replies, pure)."""
from __future__ import annotations

from collections.abc import Callable

from utils.probing.probe_config import ApiOptions, ProbeConfig


def api_backend(config: ProbeConfig) -> tuple[str, Callable]:
    """(model name for the results folder, a function that makes the backend); nothing is sent."""
    from utils.probing.backends.api.backend import ApiBackend, make_client, resolve_endpoint

    api = config.backend
    if not isinstance(api, ApiOptions):
        raise TypeError("api_backend needs the config of an API script")
    model = config.model_name_or_path

    def make() -> ApiBackend:  # one client per --base_url (replicas of the model), or OpenAI's / DeepSeek's
        clients = [make_client(resolve_endpoint(model, url, api.api_key_env), api.timeout)
                   for url in api.base_url or (None,)]
        return ApiBackend(clients, model, concurrency=config.concurrency, max_retries=api.max_retries)

    return model, make


def check_key(config: ProbeConfig) -> None:
    """The key the server needs is set (a one-line UserError naming its variable if not)."""
    from utils.probing.backends.api.backend import make_client, resolve_endpoint

    for url in config.backend.base_url or (None,):
        make_client(resolve_endpoint(config.model_name_or_path, url, config.backend.api_key_env))
