"""What `--base_url` must be: a whole URL with `http://` or `https://`, checked before anything is sent.

Without a scheme the OpenAI client cannot even try to connect and every item would be retried for
about 43 s, so the flag is refused at once, naming the URL meant (`/v1` for a bare host: vLLM,
llama.cpp and Ollama answer there):

    >>> suggestion("localhost:8000")
    'http://localhost:8000/v1'
    >>> suggestion("api.example.com/openai/v1")
    'https://api.example.com/openai/v1'
"""
from __future__ import annotations

import ipaddress
import re

SCHEMES = ("http://", "https://")
_LOCAL_NAMES = ("localhost", "0.0.0.0")


def check_base_url(text: str) -> str:
    """`text` when it starts with http:// or https:// and names a host; else a ValueError whose
    one line says what is wrong and which URL was probably meant."""
    url = text.strip()
    if url.lower().startswith(SCHEMES):
        if url.split("://", 1)[1].strip("/"):
            return url
        raise ValueError(f"{text!r} names no host, e.g. http://localhost:8000/v1")
    other = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if other and other[1].lower() not in ("http", "https"):
        raise ValueError(f"{text!r} uses {other[1]}://; an OpenAI-compatible API takes http:// or https://, "
                         f"e.g. {suggestion(url[other.end():])}")
    raise ValueError(f"{text!r} has no http:// or https://; did you mean {suggestion(url)}?")


def suggestion(text: str) -> str:
    """The URL `text` probably meant: http for a local or numbered host or one with a port (a
    server of one's own), else https; `/v1` where no path is given."""
    rest = re.sub(r"^(?:https?:)?/*", "", text.strip(), flags=re.I)  # `http:/x`, `//x`: the scheme half-typed
    host, _, path = rest.partition("/")
    path = path.strip("/") or "v1"
    if host.startswith("["):  # [::1]:8000
        name, _, port = host[1:].partition("]")
        port = port.lstrip(":")
    else:
        name, _, port = host.partition(":")
    scheme = "http" if port or _is_local(name) else "https"
    return f"{scheme}://{host}/{path}"


def _is_local(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name.lower() in _LOCAL_NAMES
    return True
