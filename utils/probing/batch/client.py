"""The files and batches endpoints, each call retried (bounded, with back-off) on the errors the
synchronous path retries, and `wait`, which says one line whenever a batch's state changes:

    batch batch_abc: validating 0/7200
    batch batch_abc: in_progress 3100/7200
    batch batch_abc: completed 7200/7200
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

import openai

from utils.core.errors import UserError
from utils.core.secrets import redact
from utils.probing.backends.api import clients
from utils.probing.backends.api.backend import RETRYABLE, retry_wait_s
from utils.probing.batch.lines import ENDPOINT

log = logging.getLogger(__name__)

DONE = ("completed", "failed", "expired", "cancelled")
WINDOW = "24h"
MAX_BACKOFF_S = 60.0


class Batches:
    """One OpenAI-compatible server's files and batches; `sleep` is the waiting (tests: fast)."""

    def __init__(self, client: openai.OpenAI, *, max_retries: int = 6, backoff_s: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.client, self.max_retries, self.backoff_s, self.sleep = client, max_retries, backoff_s, sleep

    def _call(self, fn: Callable, *args, **kwargs):
        for retry in range(self.max_retries):
            try:
                return fn(*args, **kwargs)
            except RETRYABLE as exc:
                wait_s = retry_wait_s(exc, retry, self.backoff_s, MAX_BACKOFF_S)
                log.warning("%s; retry %d/%d in %.1fs", redact(f"{type(exc).__name__}: {exc}"), retry + 1,
                            self.max_retries, wait_s)
                self.sleep(wait_s)
        return fn(*args, **kwargs)  # the last try: its error is the caller's

    def upload(self, name: str, data: bytes) -> str:
        return self._call(self.client.files.create, file=(name, data, "application/jsonl"), purpose="batch").id

    def create(self, input_file_id: str, metadata: dict[str, str]) -> str:
        return self._call(self.client.batches.create, input_file_id=input_file_id, endpoint=ENDPOINT,
                          completion_window=WINDOW, metadata=metadata).id

    def find(self, input_file_id: str) -> str | None:
        """The batch already made over `input_file_id`, if any (a kill between making it and
        recording it): the most recent 100 batches are looked at."""
        page = self._call(self.client.batches.list, limit=100)
        return next((b.id for b in page.data if b.input_file_id == input_file_id), None)

    def retrieve(self, batch_id: str):
        return self._call(self.client.batches.retrieve, batch_id)

    def content(self, file_id: str) -> str:
        return self._call(self.client.files.content, file_id).text


def wait(batches: Batches, batch_id: str, say: Callable[[str], None], first_s: float = 10.0):
    """The batch once completed, failed, expired or cancelled; polls after `first_s`, doubling up to 30x."""
    delay, shown = first_s, None
    while True:
        batch = batches.retrieve(batch_id)
        c = batch.request_counts  # `in_progress 3100/7200`: completed and failed requests over all of them
        done, total = ((c.completed or 0) + (c.failed or 0), c.total or 0) if c else (0, 0)
        line = f"{batch.status} {done}/{total}"
        if line != shown:
            say(f"batch {batch_id}: {line}")
            shown = line
        if batch.status in DONE:
            return batch
        batches.sleep(delay)
        delay = min(delay * 2, 30 * first_s)


def batches_for(config) -> Batches:
    urls = config.backend.base_url or (None,)
    if len(urls) > 1:  # a batch job is one provider's: its files and its batch live on one server
        raise UserError(f"--batch sends one job to one server, not to {len(urls)}; give one --base_url")
    return Batches(clients(config)[0], max_retries=config.backend.max_retries)
