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
from chatkit.providers.base import Prompt, WrappedProvider, new_input, split_system
from chatkit.providers.calls import CallResult, EventGenerator

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

    def rebuild(self, messages: Sequence[Message], previous_response_id: str) -> list[Message]:
        """The whole conversation a chained call stands for: the current instructions, the
        chain ending at ``previous_response_id``, and the new input in ``messages``.

        Raises ``PreviousResponseNotFound`` if any link of the chain is missing.
        """
        instructions, _ = split_system(messages)
        head = [Message("system", instructions)] if instructions else []
        return head + self.history(previous_response_id) + new_input(messages)


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

    @property
    def chains_locally(self) -> bool:
        return True

    def _to_send(self, prompt: Prompt) -> tuple[Prompt, str]:
        """What the wrapped provider is sent (the whole history), and a note saying how."""
        previous = prompt.previous_response_id
        if previous is None:
            return prompt, ""
        try:
            rebuilt = self.store.rebuild(prompt.messages, previous)
        except PreviousResponseNotFound:
            return prompt.with_messages(prompt.messages), (
                f"The local response store has no response {previous}; "
                f"sent the full history instead and started a new chain."
            )
        earlier = sum(1 for m in rebuilt if not m.is_instruction) - len(new_input(prompt.messages))
        return prompt.with_messages(rebuilt), (
            f"Chained locally: rebuilt {earlier} earlier messages from the response store."
        )

    def _request_body(self, prompt: Prompt) -> dict[str, Any]:
        to_send, _ = self._to_send(prompt)
        return super()._request_body(to_send)

    def _generate(self, prompt: Prompt) -> EventGenerator:
        to_send, note = self._to_send(prompt)
        result = yield from self._relay(self._inner_stream(to_send))
        return self._record(prompt, result, note)

    def _complete(self, prompt: Prompt, *, stream: bool) -> CallResult:
        """The whole reply through the wrapped provider's own ``complete``."""
        to_send, note = self._to_send(prompt)
        result = self.inner.complete(to_send.messages, to_send.options, stream=stream)
        return self._record(prompt, result, note)

    def _record(self, prompt: Prompt, result: CallResult, note: str) -> CallResult:
        """Store the reply as a response of the chain; the result carries its id."""
        messages, previous = prompt.messages, prompt.previous_response_id
        chained_from = previous if previous in self.store else None
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
