"""What the providers on an official SDK share: an endpoint, and one way to stream a call.

A call goes the same way for every API: build the body, create the response (an SDK error
becomes a chatkit sentence), read the stream's events, fail with what arrived when the stream
breaks or closes before its final event, and make the result. ``SdkProvider._generate`` is that
template. Each API names its ``SDK`` (an ``Sdk``: client, exceptions and their sentences,
default endpoint, token counts) and fills in ``_body`` (its request), ``_send`` (the SDK's create
call), ``_read`` (its stream's events, noted in a ``Reading``), ``_finish`` (the result) and
``_finish_plain`` (the result of a request that was not streamed); ``_open`` is where an API
that retries differently (Responses, when a chain breaks) says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import InitVar, dataclass, field
from typing import Any, ClassVar

from chatkit.context_windows import known_context_window
from chatkit.errors import ChatkitError
from chatkit.messages import Message
from chatkit.providers.base import Prompt, StreamingProvider
from chatkit.providers.calls import (
    CallResult,
    EventGenerator,
    Finished,
    StreamEvent,
    TextDelta,
    Usage,
    UsageReport,
)
from chatkit.providers.endpoints import Endpoint
from chatkit.providers.sdk_errors import closed_early, stream_failure
from chatkit.providers.server_tokens import CountMethod, ServerTokenizer
from chatkit.tokens import Tokenizer, tokenizer_for_model


@dataclass(frozen=True)
class Sdk:
    """One official SDK as its providers use it: how to make its client for an endpoint, the
    exceptions it raises and how each reads as a chatkit sentence, the endpoint its providers
    use by default (given a base URL or not), and how their server counts tokens."""

    make_client: Callable[[Endpoint], Any]
    errors: tuple[type[BaseException], ...]
    error: Callable[..., ChatkitError]  # (exc, *, provider, model, key_env)
    default_endpoint: Callable[[str | None], Endpoint]
    count_methods: Callable[[SdkProvider], tuple[CountMethod, ...]]


@dataclass(frozen=True)
class Sent:
    """One request as it went: its body, what the SDK returned (a stream or a response), the
    messages behind it and what to tell the person about it."""

    body: dict[str, Any]
    answer: Any
    messages: tuple[Message, ...] = ()
    note: str = ""


@dataclass
class Reading:
    """What a stream has said so far, besides its text."""

    parts: list[str] = field(default_factory=list)
    response_id: str | None = None
    model: str | None = None
    usage: Usage | None = None
    finish_reason: str | None = None
    final: Any = None  # the API's final object, where it sends one (a Response)
    finished: bool = False  # the API's last event arrived

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def usage_seen(self, usage: Usage | None) -> Iterator[StreamEvent]:
        """Note ``usage`` (when the stream reported one) and pass it on as an event."""
        if usage is not None:
            self.usage = usage
            yield UsageReport(usage)

    def finish(self, reason: str | None) -> Iterator[StreamEvent]:
        """Note that the model stopped, and why, and pass it on as an event."""
        self.finish_reason = reason or self.finish_reason
        self.finished = True
        yield Finished(self.finish_reason)


@dataclass
class SdkProvider(StreamingProvider):
    """A provider on an official SDK, talking to ``endpoint``.

    ``client``, ``api_key`` and ``base_url`` are shortcuts that choose the endpoint's SDK
    client, key or server; without any, the API's default endpoint and the SDK's variables
    apply. The name is the endpoint's.
    """

    endpoint: Endpoint | None = None
    client: InitVar[Any] = None
    api_key: InitVar[str | None] = None
    base_url: InitVar[str | None] = None

    SDK: ClassVar[Sdk]
    MODE: ClassVar[str] = "chat"

    def __post_init__(self, client: Any, api_key: str | None, base_url: str | None) -> None:
        endpoint = self.endpoint or self.SDK.default_endpoint(base_url)
        self.endpoint = endpoint.chosen(base_url=base_url, api_key=api_key, client=client)
        self.name = self.endpoint.name
        self.mode = self.MODE

    @property
    def label(self) -> str:
        """The provider as sentences name it (the server's host for a compatible one)."""
        return self.endpoint.label

    def sdk_client(self) -> Any:
        """The SDK client, made on first use and kept (with the endpoint)."""
        if self.endpoint.client is None:
            self.endpoint = self.endpoint.chosen(client=self.SDK.make_client(self.endpoint))
        return self.endpoint.client

    def _error(self, exc: BaseException) -> ChatkitError:
        """The SDK's exception as a chatkit error naming this provider and model."""
        return self.SDK.error(
            exc, provider=self.label, model=self.model, key_env=self.endpoint.api_key_env
        )

    def context_window(self) -> int | None:
        """The window given at construction, else the endpoint's for the model, else None."""
        return self.context_window_tokens or known_context_window(
            self.model, self.endpoint.models_key
        )

    def tokenizer(self) -> Tokenizer:
        """The server's own counts when it offers them (else the labelled estimate); the
        offline tokenizer when no server needs asking."""
        methods = self.SDK.count_methods(self)
        if not methods:
            return tokenizer_for_model(self.model)
        return ServerTokenizer(
            key=(*self.endpoint.counts_key, self.model),
            where=self.endpoint.where,
            model=self.model,
            methods=methods,
        )

    # -- one call ---------------------------------------------------------------------------------

    def _generate(self, prompt: Prompt) -> EventGenerator:
        sent = self._open(prompt, stream=True)
        reading = Reading()
        try:
            with sent.answer:
                for event in self._read(sent.answer, reading):
                    if isinstance(event, TextDelta):
                        reading.parts.append(event.text)
                    yield event
        except self.SDK.errors as exc:
            raise stream_failure(self._error(exc), reading.parts) from exc
        if not reading.finished:
            raise closed_early(self.label, reading.parts)
        return self._finish(sent, reading)

    def _complete(self, prompt: Prompt, *, stream: bool) -> CallResult:
        """The whole reply at once: the streamed request consumed, or with ``stream=False``
        one plain request (``stream`` absent from the body, one JSON response)."""
        if stream:
            return super()._complete(prompt, stream=True)
        return self._finish_plain(self._open(prompt, stream=False))

    def _request_body(self, prompt: Prompt) -> dict[str, Any]:
        return self._body(prompt, stream=True)

    def _open(self, prompt: Prompt, *, stream: bool) -> Sent:
        """Send the request: the body for the prompt, created on the server."""
        body = self._body(prompt, stream=stream)
        return Sent(body, self._create(body), prompt.messages)

    def _create(self, body: dict[str, Any]) -> Any:
        """The SDK's create call for ``body``, its errors as chatkit sentences."""
        try:
            return self._send(self.sdk_client(), body)
        except self.SDK.errors as exc:
            raise self._error(exc) from exc

    # -- what each API fills in -----------------------------------------------------------------

    def _body(self, prompt: Prompt, *, stream: bool) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _send(self, client: Any, body: dict[str, Any]) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _read(self, stream: Any, reading: Reading) -> Iterator[StreamEvent]:  # pragma: no cover
        raise NotImplementedError

    def _finish(self, sent: Sent, reading: Reading) -> CallResult:  # pragma: no cover
        raise NotImplementedError

    def _streamed(self, sent: Sent, reading: Reading, response_body: dict[str, Any]) -> CallResult:
        """The result of a streamed call, its response body assembled from the events."""
        return self.result(
            reading.text,
            sent.body,
            usage=reading.usage,
            response_id=reading.response_id,
            finish_reason=reading.finish_reason,
            response_body=response_body,
            note="Response body assembled from the stream's events.",
        )

    def _finish_plain(self, sent: Sent) -> CallResult:  # pragma: no cover
        raise NotImplementedError
