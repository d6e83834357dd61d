"""``previous_response_id`` for every provider: a local store of chained responses.

The OpenAI Responses API keeps each response on the server, and a new call names the one it
continues. Providers without server-side state (Anthropic, the local model, most compatible
servers) get the same semantics here: each reply gets an id, the store keeps (previous id,
input, output, instructions), and continuing from an id rebuilds the history by walking the
chain. As on the real API, instructions are not inherited: each call sends its own.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from chatkit.errors import PreviousResponseNotFound
from chatkit.messages import Message
from chatkit.providers.base import (
    GenerationOptions,
    TurnGenerator,
    TurnResult,
    WrappedProvider,
    new_input,
    split_system,
)

LOCAL_RESPONSE_PREFIX = "resp_local_"


@dataclass(frozen=True)
class StoredResponse:
    """One link of a chain: what was sent as new input and what came back."""

    id: str
    previous_response_id: str | None
    input: tuple[Message, ...]
    output: Message
    instructions: str = ""
    model: str = ""


@dataclass
class ResponseStore:
    """Thread-safe in-memory store of responses, addressed by id."""

    _items: dict[str, StoredResponse] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        previous_response_id: str | None,
        input: Sequence[Message],
        output: Message,
        *,
        instructions: str = "",
        model: str = "",
        response_id: str | None = None,
    ) -> StoredResponse:
        """Store a response and return it (a new ``resp_local_…`` id unless one is given)."""
        item = StoredResponse(
            id=response_id or LOCAL_RESPONSE_PREFIX + secrets.token_hex(12),
            previous_response_id=previous_response_id,
            input=tuple(input),
            output=output,
            instructions=instructions,
            model=model,
        )
        with self._lock:
            self._items[item.id] = item
        return item

    def __contains__(self, response_id: object) -> bool:
        with self._lock:
            return response_id in self._items

    def history(self, response_id: str) -> list[Message]:
        """Every input and output message of the chain ending at ``response_id``, oldest first.

        Raises ``PreviousResponseNotFound`` if any link is missing.
        """
        links: list[StoredResponse] = []
        current: str | None = response_id
        with self._lock:
            while current is not None:
                item = self._items.get(current)
                if item is None:
                    raise PreviousResponseNotFound(
                        f"Previous response with id '{current}' not found."
                    )
                links.append(item)
                current = item.previous_response_id
        messages: list[Message] = []
        for item in reversed(links):
            messages.extend(item.input)
            messages.append(item.output)
        return messages


@dataclass
class LocallyChained(WrappedProvider):
    """Responses mode for a provider without server-side state, backed by a ``ResponseStore``.

    Given a ``previous_response_id`` it rebuilds the history from the store and sends that,
    plus this turn's new input and the current instructions, through the wrapped provider. An
    id the store does not know falls back to the full history the caller passed, and says so
    in the result's note.
    """

    store: ResponseStore = field(default_factory=ResponseStore)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.mode = "responses"
        self.capabilities = replace(self.inner.capabilities, server_side_chaining=False)

    def _messages_to_send(
        self, messages: Sequence[Message], previous_response_id: str | None
    ) -> tuple[list[Message], str]:
        instructions, _ = split_system(messages)
        head = [Message("system", instructions)] if instructions else []
        if previous_response_id is None:
            return list(messages), ""
        try:
            history = self.store.history(previous_response_id)
        except PreviousResponseNotFound:
            return list(messages), (
                f"The local response store has no response {previous_response_id}; "
                f"sent the full history instead and started a new chain."
            )
        rebuilt = head + history + new_input(messages)
        return (
            rebuilt,
            f"Chained locally: rebuilt {len(history)} earlier messages from the response store.",
        )

    def build_request(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
    ) -> dict[str, Any]:
        to_send, _ = self._messages_to_send(messages, previous_response_id)
        return self.inner.build_request(to_send, options or GenerationOptions())

    def _generate(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        previous_response_id: str | None,
    ) -> TurnGenerator:
        to_send, note = self._messages_to_send(messages, previous_response_id)
        stream = self.inner.stream(to_send, options)
        try:
            yield from stream
        finally:
            if not stream.done:
                stream.stop()
        assert stream.result is not None
        return self._record(messages, previous_response_id, stream.result, note)

    def complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        previous_response_id: str | None = None,
        *,
        stream: bool = True,
    ) -> TurnResult:
        """The whole reply through the wrapped provider's own ``complete``."""
        to_send, note = self._messages_to_send(messages, previous_response_id)
        result = self.inner.complete(to_send, options or GenerationOptions(), stream=stream)
        return self._record(messages, previous_response_id, result, note)

    def _record(
        self,
        messages: Sequence[Message],
        previous_response_id: str | None,
        result: TurnResult,
        note: str,
    ) -> TurnResult:
        """Store the reply as a response of the chain; the result carries its id."""
        chained_from = previous_response_id if previous_response_id in self.store else None
        instructions, _ = split_system(messages)
        stored = self.store.add(
            chained_from,
            new_input(messages) if chained_from else [m for m in messages if not m.is_instruction],
            Message("assistant", result.text),
            instructions=instructions,
            model=self.model,
        )
        return replace(
            result,
            mode="responses",
            response_id=stored.id,
            previous_response_id=chained_from,
            note=" ".join(part for part in (note, result.note) if part),
        )
