"""Where an SDK provider's requests go and how they authenticate, apart from the API they speak.

An ``Endpoint`` is one server - OpenAI's own API, Anthropic's, or any OpenAI-compatible one -
with the key for it; the API classes (``OpenAIChat``, ``OpenAIResponses``, ``Anthropic``) take
one, as pydantic-ai's models take a ``provider``. So an OpenAI-compatible server is an
endpoint, not a kind of provider class. The SDKs' own variables (``OPENAI_API_KEY`` /
``OPENAI_BASE_URL``, ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_BASE_URL``) point an endpoint
elsewhere with no code change, and a key from the environment goes only to the server it
belongs to. Keys are passed straight to the SDK and never stored elsewhere. (Each API module
makes its SDK's client for an endpoint: ``openai_client``, ``anthropic_client``.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from chatkit.errors import MissingApiKey

DEFAULT_TIMEOUT_SECONDS = 120.0


def url_host(url: str | None) -> str | None:
    """``host[:port]`` of a URL, or None when there is none."""
    if not url:
        return None
    parts = urlsplit(str(url))
    return parts.netloc.rpartition("@")[2] or None


@dataclass(frozen=True)
class Endpoint:
    """One server and its key.

    ``name`` is how sentences name it; ``own_host`` is its own API's host (None for a
    compatible server, which sentences name by the host it is at). ``api_key_env`` and
    ``base_url_env`` are the variables its key and address come from; ``default_url`` is where
    requests go when nothing else says (None: the SDK's default). ``models_key`` names its
    tables in ``chatkit/data/context_windows.toml`` and ``prices.toml`` (None: any table, as a
    compatible server may serve anyone's model). ``base_url``, ``api_key`` and ``client`` are
    what a caller chose.
    """

    name: str
    own_host: str | None
    api_key_env: str | None = None
    base_url_env: str | None = None
    default_url: str | None = None
    models_key: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    client: Any = field(default=None, repr=False, compare=False)

    def chosen(
        self, *, base_url: str | None = None, api_key: str | None = None, client: Any = None
    ) -> Endpoint:
        """This endpoint with what a caller chose (a server, a key, a ready SDK client)."""
        return replace(
            self,
            base_url=base_url or self.base_url,
            api_key=api_key or self.api_key,
            client=client if client is not None else self.client,
        )

    @property
    def url(self) -> str | None:
        """The base URL requests go to: the chosen one, the client's, the variable's, the
        default (None: the SDK's own)."""
        if self.base_url:
            return self.base_url
        if self.client is not None:
            return str(self.client.base_url)
        from_env = os.environ.get(self.base_url_env) if self.base_url_env else None
        return from_env or self.default_url

    @property
    def on_own_api(self) -> bool:
        """True when requests go to this endpoint's own API rather than another server."""
        host = url_host(self.url)
        return self.own_host is not None and (host is None or host == self.own_host)

    @property
    def label(self) -> str:
        """The endpoint as sentences name it: its name, and for a compatible server the host
        it is at ("OpenAI-compatible at 127.0.0.1:8080")."""
        host = url_host(self.url)
        if self.own_host is not None or host is None:
            return self.name
        return f"{self.name} at {host}"

    @property
    def where(self) -> str:
        """The endpoint with the host it is at whenever that is not its own API's (how a
        count's note names the server that counted): "OpenAI at 127.0.0.1:8080"."""
        host = url_host(self.url)
        if host is None or host == self.own_host:
            return self.name
        return f"{self.name} at {host}"

    @property
    def counts_key(self) -> tuple[str, ...]:
        """What a server's token counts are cached under: its address."""
        return (self.own_host or "", self.url or "")

    def key(self) -> str | None:
        """The key to send: the chosen one, else the environment's - but only for the server
        it belongs to (the default address, or the one its variable names)."""
        if self.api_key:
            return self.api_key
        if self.api_key_env is None:
            return None
        host_url = (os.environ.get(self.base_url_env) if self.base_url_env else None) or ""
        if self.base_url and self.base_url.rstrip("/") != host_url.rstrip("/"):
            return None
        return os.environ.get(self.api_key_env) or None

    def missing_key(self) -> MissingApiKey:
        where = f" or set {self.api_key_env}" if self.api_key_env else ""
        return MissingApiKey(f"No {self.name} API key is set: paste one in the sidebar{where}.")


OPENAI_ENDPOINT = Endpoint(
    "OpenAI",
    own_host="api.openai.com",
    api_key_env="OPENAI_API_KEY",
    base_url_env="OPENAI_BASE_URL",
    models_key="openai",
)
COMPATIBLE_ENDPOINT = replace(
    OPENAI_ENDPOINT, name="OpenAI-compatible", own_host=None, models_key=None
)
ANTHROPIC_ENDPOINT = Endpoint(
    "Anthropic",
    own_host="api.anthropic.com",
    api_key_env="ANTHROPIC_API_KEY",
    base_url_env="ANTHROPIC_BASE_URL",
    models_key="anthropic",
)


def openai_endpoint(base_url: str | None = None) -> Endpoint:
    """The endpoint an OpenAI-style provider uses by default: OpenAI's own API, or a
    compatible server when a base URL is given."""
    return COMPATIBLE_ENDPOINT if base_url else OPENAI_ENDPOINT
