"""The provider protocol and the result types every provider fills in.

A provider turns chatkit messages into one API's request, streams the reply as plain text
chunks, and ends with a ``TurnResult``: the full text, the usage as billed, the exact request
body and its size, and the response id. Streaming is a sync generator (it plugs straight into
``st.write_stream``); the result is read from the ``ReplyStream`` once it is exhausted.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from chatkit.context_windows import known_context_window
from chatkit.messages import Message
from chatkit.tokens import Tokenizer, tokenizer_for_model

# "chat": the whole message list goes every turn; "responses": turns chain by
# previous_response_id (on the server, or in chatkit's local response store).
MODES: tuple[str, ...] = ("chat", "responses")


@dataclass(frozen=True)
class Usage:
    """Tokens of one call as the provider billed them.

    ``input_tokens`` is the total input, cached tokens included (OpenAI's convention;
    Anthropic's cache reads and writes are added in). ``estimated`` is True when chatkit
    counted locally instead of reading the provider's figure.
    """

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class GenerationOptions:
    """Per-call settings. ``None`` means "don't send it" (the API's default applies)."""

    max_output_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a provider supports, as data the UI reads instead of testing provider names."""

    streaming: bool = True
    server_side_chaining: bool = False
    sampling_parameters: bool = True
    exact_token_counts: bool = False
    needs_api_key: bool = True
    loads_in_process: bool = False  # a local model: the first call loads it (show progress)


@dataclass(frozen=True)
class TurnResult:
    """One finished call: what came back, what it cost, and exactly what was sent."""

    text: str
    provider: str
    model: str
    mode: str
    request_body: dict[str, Any]
    request_bytes: int
    usage: Usage | None = None
    response_id: str | None = None
    previous_response_id: str | None = None
    finish_reason: str | None = None
    response_body: dict[str, Any] | None = None
    note: str = ""
    stopped: bool = False
    received_bytes: int | None = None  # locally chained: the request the model received


def request_size(body: dict[str, Any]) -> int:
    """Bytes of a request body as the SDKs send it (compact UTF-8 JSON)."""
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


TurnGenerator: TypeAlias = Generator[str, None, TurnResult]


class ReplyStream:
    """Text chunks of a reply as they arrive; ``result`` once the stream is exhausted.

    ``partial_text`` always holds what has arrived so far, so a caller interrupted mid-stream
    (a stop button) can keep it. ``stop()`` closes the underlying SDK stream.
    """

    def __init__(self, generator: TurnGenerator) -> None:
        self._generator = generator
        self._chunks: list[str] = []
        self.result: TurnResult | None = None
        self.stopped = False

    def __iter__(self) -> Iterator[str]:
        while True:
            try:
                chunk = next(self._generator)
            except StopIteration as finished:
                self.result = finished.value
                return
            if chunk:
                self._chunks.append(chunk)
                yield chunk

    @property
    def partial_text(self) -> str:
        return "".join(self._chunks)

    @property
    def done(self) -> bool:
        return self.result is not None

    def stop(self) -> None:
        """Stop generating; what arrived stays in ``partial_text``.

        Call it from the thread that iterates the stream (a generator cannot be closed while
        another thread is inside it); another thread should only read ``partial_text``.
        """
        self.stopped = True
        self._generator.close()

    def finish(self) -> TurnResult:
        """Consume the rest of the stream and return the result."""
        for _ in self:
            pass
        if self.result is None:  # pragma: no cover - generators always return a result
            raise RuntimeError("The stream ended without a result.")
        return self.result


class Provider(Protocol):
    """One model behind one API mode.

    ``messages`` is always the whole conversation to send (system prompt first, already
    trimmed); a provider that chains on the server sends only what is new when given a
    ``previous_response_id``.
    """

    name: str
    model: str
    mode: str
    capabilities: Capabilities

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
    ) -> TurnResult:
        """The whole reply at once; ``stream=False`` asks an HTTP API for a plain
        (not streamed) response, as the SDKs' ``create()`` does by default."""
        ...

    def tokenizer(self) -> Tokenizer:
        """How to count tokens for this provider's model."""
        ...

    def context_window(self) -> int | None:
        """The model's context window in tokens, or None when unknown."""
        ...


@dataclass
class StreamingProvider:
    """Shared plumbing: ``stream`` wraps ``_generate``; ``complete`` is built on ``stream``."""

    model: str
    name: str = "provider"
    mode: str = "chat"
    capabilities: Capabilities = field(default_factory=Capabilities)
    context_window_tokens: int | None = None

    def tokenizer(self) -> Tokenizer:
        """The model's tokenizer (exact for OpenAI models tiktoken knows, else an estimate)."""
        return tokenizer_for_model(self.model)

    def context_window(self) -> int | None:
        """The window given at construction, else the known one for the model, else None."""
        return self.context_window_tokens or known_context_window(self.model)

    def result(self, text: str, body: dict[str, Any], **details: Any) -> TurnResult:
        """This provider's ``TurnResult`` for ``text``, with the request body and its size."""
        return TurnResult(
            text=text,
            provider=self.name,
            model=self.model,
            mode=self.mode,
            request_body=body,
            request_bytes=request_size(body),
            **details,
        )

    def _generate(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
    ) -> TurnGenerator:  # pragma: no cover - every provider overrides it
        raise NotImplementedError

    def stream(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
    ) -> ReplyStream:
        """Stream the reply to ``messages`` as text chunks."""
        return ReplyStream(
            self._generate(list(messages), options or GenerationOptions(), previous_response_id)
        )

    def complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
        *,
        stream: bool = True,
    ) -> TurnResult:
        """The whole reply at once (the stream, consumed). Providers over an HTTP API send a
        plain request instead when ``stream=False``; in-process ones have only one way."""
        return self.stream(messages, options, previous_response_id).finish()


@dataclass
class WrappedProvider(StreamingProvider):
    """A provider around ``inner`` (a time limit, a meter, a local chain): it answers to the
    inner provider's name, model, mode and capabilities, and counts with its tokenizer and
    window, unless a subclass says otherwise."""

    model: str = ""  # taken from ``inner``
    inner: Provider | None = None

    def __post_init__(self) -> None:
        if self.inner is None:
            raise ValueError(f"{type(self).__name__} needs the provider it wraps.")
        self.name = self.inner.name
        self.model = self.inner.model
        self.mode = self.inner.mode
        self.capabilities = self.inner.capabilities

    def tokenizer(self) -> Tokenizer:
        return self.inner.tokenizer()

    def context_window(self) -> int | None:
        return self.inner.context_window()

    def build_request(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
    ) -> dict[str, Any]:
        return self.inner.build_request(
            messages, options or GenerationOptions(), previous_response_id
        )


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
