"""OpenAI, and any OpenAI-compatible server: two providers on the same two APIs.

Both speak Chat Completions (``OpenAIChat``) and Responses (``OpenAIResponses``); they differ
only in their endpoint - OpenAI's own API, or a server whose address the person gives
(Ollama, vLLM, LM Studio, llama.cpp's server), named by its host. ``build_on_openai_apis``
builds any provider whose record names an endpoint that speaks these APIs.
"""

from __future__ import annotations

from typing import Any

import openai

from chatkit.providers.anthropic_messages import MESSAGES, MESSAGES_MODE_LABEL
from chatkit.providers.base import Capabilities, Provider
from chatkit.providers.chained import ResponseStore
from chatkit.providers.endpoints import COMPATIBLE_ENDPOINT, OPENAI_ENDPOINT, url_host
from chatkit.providers.openai_chat import CHAT_COMPLETIONS, OpenAIChat
from chatkit.providers.openai_responses import RESPONSES, OpenAIResponses
from chatkit.providers.records import OPENAI_MODE_LABELS, ProviderKind, ProviderSpec

SHAPES = {"chat": CHAT_COMPLETIONS, "responses": RESPONSES}
# An OpenAI-compatible server (llama-server in a class) also offers the Messages shape.
COMPATIBLE_SHAPES = {**SHAPES, "messages": MESSAGES}


def build_on_openai_apis(
    kind: ProviderKind, spec: ProviderSpec, api_key: str | None, client: Any, store: ResponseStore
) -> Provider:
    """The provider for ``spec`` on ``kind``'s endpoint: Chat Completions, and Responses where
    the server keeps responses (``server_side_chaining``; else Responses mode is chained
    locally). The spec's base URL is the server's address when the kind asks for one."""
    assert kind.endpoint is not None, f"{kind.name} names no endpoint"
    endpoint = kind.endpoint.chosen(
        base_url=spec.base_url if kind.asks_base_url else None, api_key=api_key, client=client
    )
    if spec.mode == "responses" and kind.capabilities.server_side_chaining:
        return OpenAIResponses(
            spec.model, endpoint=endpoint, context_window_tokens=spec.context_window, store=store
        )
    return OpenAIChat(spec.model, endpoint=endpoint, context_window_tokens=spec.context_window)


def _is_openai_client(client: Any) -> bool:
    return isinstance(client, openai.OpenAI) and url_host(str(client.base_url)) == (
        OPENAI_ENDPOINT.own_host
    )


OPENAI = ProviderKind(
    OPENAI_ENDPOINT.name,
    Capabilities(server_side_chaining=True, exact_token_counts=True),  # tiktoken knows its models
    build_on_openai_apis,
    shapes=SHAPES,
    order=10,
    endpoint=OPENAI_ENDPOINT,
    suggested_models=(
        "gpt-4.1-mini",
        "gpt-4.1",
        "gpt-4o-mini",
        "gpt-4o",
        "gpt-5.5",
        "gpt-5.4-mini",
    ),
    default_when=("OPENAI_API_KEY", "OPENAI_BASE_URL"),  # the base URL: at api.openai.com
    takes_client=_is_openai_client,
    prompt_view="encoding",
)

COMPATIBLE = ProviderKind(
    COMPATIBLE_ENDPOINT.name,
    Capabilities(server_side_chaining=True, needs_api_key=False),
    build_on_openai_apis,
    shapes=COMPATIBLE_SHAPES,
    order=30,
    mode_labels={**OPENAI_MODE_LABELS, "messages": MESSAGES_MODE_LABEL},
    endpoint=COMPATIBLE_ENDPOINT,
    model_env="CHATKIT_COMPATIBLE_MODEL",  # else the first model the host's server lists
    asks_base_url=True,
    default_base_url="http://127.0.0.1:11434/v1",
    base_url_help="An OpenAI-compatible server: Ollama, vLLM, LM Studio, llama.cpp's server.",
    model_field="text",
    suggested_models=("llama3.2", "qwen2.5:7b-instruct"),
    # OPENAI_BASE_URL at any other server, with no OpenAI key (which makes OpenAI the default)
    default_when=("OPENAI_BASE_URL",),
    takes_client=lambda client: isinstance(client, openai.OpenAI),
    prompt_view="served",
)

PROVIDER_KINDS = (OPENAI, COMPATIBLE)
