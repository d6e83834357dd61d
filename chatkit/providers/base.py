"""The provider protocol, the data that describes providers, and the plumbing they share.

A provider turns chatkit messages into one API's request and streams the reply as typed events
(``chatkit.providers.calls``), ending with a ``CallResult``: the text, the usage as billed, the
exact request body and its size, the response id. ``StreamingProvider`` builds ``stream`` and
``complete`` on one ``_generate``; ``WrappedProvider`` is a provider around another (a time
limit, a meter, a local chain). ``ApiShape`` names one API's request format and its pure
builder, for the request inspector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatkit.context_windows import known_context_window
from chatkit.messages import Message
from chatkit.providers.calls import CallResult, EventGenerator, ReplyStream, request_size
from chatkit.tokens import Tokenizer, tokenizer_for_model

# "chat": the whole message list goes every turn; "responses": turns chain by
# previous_response_id (on the server, or in chatkit's local response store); "messages":
# Anthropic's Messages shape (top-level system, alternating turns) for a provider whose own
# shape is a chat (``chatkit.providers.anthropic_messages``). A kind lists the modes it offers.
MODES: tuple[str, ...] = ("chat", "responses", "messages")


@dataclass(frozen=True)
class GenerationOptions:
    """Per-call settings. ``None`` means "don't send it" (the API's default applies)."""

    max_output_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None

    def in_body(self, max_tokens: str, *, seed: bool = False) -> dict[str, Any]:
        """The options that are set, in an API's words: its name for the reply's limit, and
        ``seed`` where the API takes one."""
        sent = {max_tokens: self.max_output_tokens, "temperature": self.temperature}
        if seed:
            sent["seed"] = self.seed
        return {name: value for name, value in sent.items() if value is not None}


@dataclass(frozen=True)
class Capabilities:
    """What a provider supports, as data the UI reads instead of testing provider names."""

    streaming: bool = True
    server_side_chaining: bool = False
    sampling_parameters: bool = True
    exact_token_counts: bool = False
    needs_api_key: bool = True
    loads_in_process: bool = False  # a local model: the first call loads it (show progress)


class Provider(Protocol):
    """One model behind one API mode.

    ``messages`` is always the whole conversation to send (system prompt first, already
    trimmed); a provider that chains on the server sends only what is new when given a
    ``previous_response_id``.
    """

    name: str
    model: str
    mode: str

    @property
    def chains_locally(self) -> bool:
        """Responses mode kept by chatkit's local response store (no server-side chain)."""
        ...

    def build_request(
        self,
        messages: Sequence[Message],
        options: GenerationOptions = ...,
        previous_response_id: str | None = None,
    ) -> dict[str, Any]:
        """The exact JSON body this provider would send (pure; for the request inspector)."""
        ...

    def stream(
        self,
        messages: Sequence[Message],
        options: GenerationOptions = ...,
        previous_response_id: str | None = None,
    ) -> ReplyStream: ...

    def complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions = ...,
        previous_response_id: str | None = None,
        *,
        stream: bool = True,
    ) -> CallResult:
        """The whole reply at once; ``stream=False`` asks an HTTP API for a plain
        (not streamed) response, as the SDKs' ``create()`` does by default."""
        ...

    def tokenizer(self) -> Tokenizer:
        """How to count tokens for this provider's model."""
        ...

    def context_window(self) -> int | None:
        """The model's context window in tokens, or None when unknown."""
        ...


@dataclass(frozen=True)
class ApiShape:
    """One API's request format: its name, how the inspector titles it, the pure function that
    builds its streamed request body from chatkit messages, and whether it can continue from
    a ``previous_response_id`` (``chains``)."""

    name: str
    title: str
    build: Callable[..., dict[str, Any]]
    chains: bool = False

    def request(
        self,
        messages: Sequence[Message],
        model: str,
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
    ) -> dict[str, Any]:
        """The body this API would get for ``messages`` (chaining where the API can)."""
        return self.build(messages, model, options, previous_response_id)


@dataclass(frozen=True)
class Prompt:
    """What one call is asked: the whole conversation to send (system prompt first, already
    trimmed), the generation options, and the response to continue from (Responses mode)."""

    messages: tuple[Message, ...]
    options: GenerationOptions = field(default_factory=GenerationOptions)
    previous_response_id: str | None = None

    @classmethod
    def of(
        cls,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
    ) -> Prompt:
        return cls(tuple(messages), options or GenerationOptions(), previous_response_id)

    def with_messages(self, messages: Sequence[Message]) -> Prompt:
        """The same call with other messages (and no chain: they are the whole history)."""
        return Prompt(tuple(messages), self.options)


@dataclass
class StreamingProvider:
    """Shared plumbing: ``build_request``, ``stream`` and ``complete`` take the protocol's
    arguments once, as a ``Prompt``, and hand it to what each provider fills in:
    ``_request_body``, ``_generate`` (its stream) and, where it has another way to answer at
    once, ``_complete``."""

    model: str
    name: str = "provider"
    mode: str = "chat"
    context_window_tokens: int | None = None

    @property
    def chains_locally(self) -> bool:
        return False

    def tokenizer(self) -> Tokenizer:
        """The model's tokenizer (exact for OpenAI models tiktoken knows, else an estimate)."""
        return tokenizer_for_model(self.model)

    def context_window(self) -> int | None:
        """The window given at construction, else the known one for the model, else None."""
        return self.context_window_tokens or known_context_window(self.model)

    def result(self, text: str, body: dict[str, Any], **details: Any) -> CallResult:
        """This provider's ``CallResult`` for ``text``, with the request body and its size."""
        return CallResult(
            text=text,
            provider=self.name,
            model=self.model,
            mode=self.mode,
            request_body=body,
            request_bytes=request_size(body),
            **details,
        )

    def build_request(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
    ) -> dict[str, Any]:
        """The exact JSON body this provider would send (pure; for the request inspector)."""
        return self._request_body(Prompt.of(messages, options, previous_response_id))

    def stream(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
    ) -> ReplyStream:
        """Stream the reply to ``messages``: its events, or its text when iterated."""
        return ReplyStream(self._generate(Prompt.of(messages, options, previous_response_id)))

    def complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
        *,
        stream: bool = True,
    ) -> CallResult:
        """The whole reply at once (the stream, consumed). Providers over an HTTP API send a
        plain request instead when ``stream=False``; in-process ones have only one way."""
        return self._complete(Prompt.of(messages, options, previous_response_id), stream=stream)

    def _complete(self, prompt: Prompt, *, stream: bool) -> CallResult:
        return ReplyStream(self._generate(prompt)).finish()

    def _request_body(self, prompt: Prompt) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _generate(self, prompt: Prompt) -> EventGenerator:  # pragma: no cover
        raise NotImplementedError


@dataclass
class WrappedProvider(StreamingProvider):
    """A provider around ``inner`` (a time limit, a meter, a local chain): it answers to the
    inner provider's name, model and mode, counts with its tokenizer and window, and sends
    its requests, unless a subclass says otherwise."""

    model: str = ""  # taken from ``inner``
    inner: Provider | None = None

    def __post_init__(self) -> None:
        if self.inner is None:
            raise ValueError(f"{type(self).__name__} needs the provider it wraps.")
        self.name = self.inner.name
        self.model = self.inner.model
        self.mode = self.inner.mode

    @property
    def chains_locally(self) -> bool:
        return self.inner.chains_locally

    def tokenizer(self) -> Tokenizer:
        return self.inner.tokenizer()

    def context_window(self) -> int | None:
        return self.inner.context_window()

    def _request_body(self, prompt: Prompt) -> dict[str, Any]:
        return self.inner.build_request(*_arguments(prompt))

    def _inner_stream(self, prompt: Prompt) -> ReplyStream:
        """The inner provider's stream for ``prompt``."""
        return self.inner.stream(*_arguments(prompt))

    def _relay(self, stream: ReplyStream) -> EventGenerator:
        """``stream``'s events passed on, and its result returned; leaving early (a stop, an
        error, a closed generator) closes the inner call."""
        try:
            yield from stream.events()
        finally:
            if not stream.done:
                stream.stop()
        assert stream.result is not None
        return stream.result


def _arguments(
    prompt: Prompt,
) -> tuple[tuple[Message, ...], GenerationOptions, str | None]:
    return prompt.messages, prompt.options, prompt.previous_response_id


def chat_messages(messages: Sequence[Message], system_role: str = "system") -> list[dict[str, str]]:
    """Messages as Chat Completions takes them, instructions under ``system_role``."""
    wire = []
    for message in messages:
        item = message.to_dict()
        if message.is_instruction:
            item["role"] = system_role
        wire.append(item)
    return wire


def split_system(messages: Sequence[Message]) -> tuple[str, list[Message]]:
    """All system/developer text joined (for APIs with a separate system value), and the rest."""
    system = "\n\n".join(m.content for m in messages if m.is_instruction)
    return system, [m for m in messages if not m.is_instruction]


def new_input(messages: Sequence[Message]) -> list[Message]:
    """The messages after the last assistant reply: what a chained call sends as new input."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "assistant":
            return [m for m in messages[index + 1 :] if not m.is_instruction]
    return [m for m in messages if not m.is_instruction]
