"""Lesson 8's code: a few fixed snippets that use the tutorial's classes, run for real.

Why snippets and not a code cell: Python has no in-process sandbox, and a subprocess without
OS isolation would still see the server's keys, files and network, so running a student's
text in the server cannot be made safe. The student chooses among these snippets instead,
some keeping context and some making the tutorial's classic mistakes; each runs our own code
(the functions below, whose source is what the page shows) against the chosen provider, and
``run_snippet`` captures every request it sent for the lesson's check.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatkit.classic import ConversationManager, ConversationSession, ResponsesConversation
from chatkit.lessons.calls import CapturedCall
from chatkit.providers.base import Prompt, Provider, WrappedProvider
from chatkit.providers.calls import CallResult, EventGenerator
from chatkit.providers.chained import ResponseStore
from chatkit.providers.registry import in_mode
from chatkit.turn import reply_info

# -- the snippets (each function's body is what the page shows) --------------------------------


def manager_kept(client: Any) -> None:
    conv = ConversationManager(system_prompt="You are a friendly tutor.")
    conv.get_response(client, "My name is Alice.")
    conv.get_response(client, "What is my name?")


def manager_per_turn(client: Any) -> None:
    for text in ("My name is Alice.", "What is my name?"):
        conv = ConversationManager(system_prompt="You are a friendly tutor.")
        conv.get_response(client, text)


def responses_chained(client: Any) -> None:
    conv = ResponsesConversation(client)
    conv.send("My name is Bob.")
    conv.send("What's my name?")


def session_per_turn(client: Any) -> None:
    for text in ("My favorite color is green.", "What's my favorite color?"):
        session = ConversationSession(client, mode="responses")
        session.send(text)


@dataclass(frozen=True)
class Snippet:
    """One snippet: its name, a title, whether it keeps context, why, and its code."""

    name: str
    title: str
    keeps_context: bool
    why: str
    mode: str  # the API mode its class speaks: "chat" or "responses"
    run: Callable[[Any], None] = field(repr=False, compare=False)

    @property
    def code(self) -> str:
        """The snippet's code as the page shows it: the body of its function."""
        source = textwrap.dedent(inspect.getsource(self.run))
        return textwrap.dedent(source.split("\n", 1)[1]).rstrip() + "\n"


SNIPPETS: tuple[Snippet, ...] = (
    Snippet(
        "manager_kept",
        "One ConversationManager for the whole chat",
        True,
        "The manager keeps its message list between calls, so the second request resends the "
        "first turn.",
        "chat",
        manager_kept,
    ),
    Snippet(
        "manager_per_turn",
        "A new ConversationManager for every message",
        False,
        "Each new manager starts with only the system prompt, so the second request carries "
        "just the new message: the classic mistake.",
        "chat",
        manager_per_turn,
    ),
    Snippet(
        "responses_chained",
        "One ResponsesConversation, chained by previous_response_id",
        True,
        "The object remembers last_response_id and sends it with the next message, so the "
        "server (here chatkit's response store) supplies the history.",
        "responses",
        responses_chained,
    ),
    Snippet(
        "session_per_turn",
        "A new ConversationSession for every message",
        False,
        "A fresh session has no last_response_id, so the second call starts a new chain and "
        "the first message is forgotten.",
        "responses",
        session_per_turn,
    ),
)


def snippet(name: str) -> Snippet:
    """The snippet called ``name``."""
    for candidate in SNIPPETS:
        if candidate.name == name:
            return candidate
    names = ", ".join(s.name for s in SNIPPETS)
    raise ValueError(f"There is no snippet {name!r}: choose one of {names}.")


# -- running one -------------------------------------------------------------------------------


@dataclass
class _Recording(WrappedProvider):
    """A provider that passes every call on and keeps what it sent and got back."""

    conversation_id: str = ""
    captured: list[CapturedCall] = field(default_factory=list)

    def _generate(self, prompt: Prompt) -> EventGenerator:
        result = yield from self._relay(self._inner_stream(prompt))
        self._capture(prompt, result)
        return result

    def _capture(self, prompt: Prompt, result: CallResult) -> None:
        system = "\n\n".join(m.content for m in prompt.messages if m.is_instruction)
        self.captured.append(
            CapturedCall(
                self.conversation_id,
                reply_info(result),
                system_prompt=system,
                context_window=self.inner.context_window(),
            )
        )


def run_snippet(name: str, provider: Provider) -> list[CapturedCall]:
    """Run snippet ``name`` against ``provider`` (in chat mode; a Responses snippet chains
    through it as ``make_provider`` would) and return the calls it made, oldest first.

    Only the fixed code in this module runs; every call's conversation id is
    ``snippet:<name>``.
    """
    chosen = snippet(name)
    base = in_mode(provider, chosen.mode, ResponseStore())
    recording = _Recording(inner=base, conversation_id=f"snippet:{name}")
    chosen.run(recording)
    return list(recording.captured)
