"""The tutorial's classes, by name and signature, without the tutorial's flaws.

A reader of "Multi-Turn Conversations" can type its examples verbatim against these:
``ConversationManager``, ``ResponsesConversation``, ``Chatbot`` and ``ConversationSession``
take a real ``openai.OpenAI`` client (or an ``anthropic.Anthropic`` client, or any chatkit
provider such as ``LocalModel()``). Unlike the snippets: a failed call leaves the history as
it was, ``Chatbot`` trims by tokens rather than by message count, model names are used as given,
and summaries add "…" only to lines that were cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatkit.conversation import conversation_from_messages
from chatkit.messages import Message, as_messages
from chatkit.providers.base import MODES, Provider
from chatkit.providers.chained import ResponseStore
from chatkit.providers.registry import is_provider, provider_for_client
from chatkit.summary import recent_summary
from chatkit.trimming import TokenBudget, TrimResult


def _model_of(client: Any, model: str) -> str:
    """The model to use: the one given, except that a chatkit provider brings its own."""
    return client.model if is_provider(client) else model


@dataclass
class ConversationManager:
    """Manage multi-turn conversation state (Chat Completions style: resend everything)."""

    system_prompt: str = "You are a helpful assistant."
    messages: list[dict[str, str]] = field(default_factory=list)
    model: str = "gpt-4o"

    def __post_init__(self) -> None:
        if self.system_prompt:
            self.messages = [{"role": "system", "content": self.system_prompt}]

    def add_user_message(self, content: str) -> None:
        self.messages.append({"role": "user", "content": content})

    def add_assistant_message(self, content: str) -> None:
        self.messages.append({"role": "assistant", "content": content})

    def get_response(self, client: Any, user_input: str) -> str:
        """Send the whole history plus ``user_input``; on failure the history is unchanged."""
        provider = provider_for_client(client, _model_of(client, self.model))
        outgoing = [*as_messages(self.messages), Message("user", user_input)]
        reply = provider.complete(outgoing).text
        self.add_user_message(user_input)
        self.add_assistant_message(reply)
        return reply

    def get_messages(self) -> list[dict[str, str]]:
        """A copy of the history: editing it does not change the conversation."""
        return [dict(m) for m in self.messages]

    def clear(self) -> None:
        """Reset the conversation, keeping the system prompt."""
        self.__post_init__()


class ResponsesConversation:
    """Conversation using Responses API chaining (``previous_response_id``, ``store=True``)."""

    def __init__(self, client: Any, model: str = "gpt-4.1") -> None:
        self.client = client
        self.model = model
        self.instructions = "You are a helpful assistant."
        self.last_response_id: str | None = None
        self._store = ResponseStore()
        self._providers: dict[str, Provider] = {}

    def _provider(self) -> Provider:
        model = _model_of(self.client, self.model)
        if model not in self._providers:
            self._providers[model] = provider_for_client(
                self.client, model, "responses", self._store
            )
        return self._providers[model]

    def send(self, message: str) -> str:
        """Send ``message`` and the instructions (resent every turn), continuing the chain."""
        outgoing = [Message("system", self.instructions)] if self.instructions else []
        outgoing.append(Message("user", message))
        result = self._provider().complete(outgoing, previous_response_id=self.last_response_id)
        self.last_response_id = result.response_id
        return result.text

    def reset(self) -> None:
        """Start a new conversation."""
        self.last_response_id = None


@dataclass
class Chatbot:
    """A chatbot whose prompt stays within ``max_history_tokens``, trimmed by tokens.

    ``messages`` keeps the whole history; each call sends the system prompt, the newest whole
    turns that fit, and the new message (``TokenBudget``). ``last_trim`` shows what was dropped.
    """

    client: Any
    model: str = "gpt-4.1"
    system_prompt: str = "You are a helpful assistant."
    max_history_tokens: int = 4000
    messages: list[dict[str, str]] = field(default_factory=list)
    last_trim: TrimResult | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.messages = [{"role": "system", "content": self.system_prompt}]

    def chat(self, user_input: str) -> str:
        """Process user input and return the response."""
        model = _model_of(self.client, self.model)
        provider = provider_for_client(self.client, model)
        candidate = [*self.messages, {"role": "user", "content": user_input}]
        budget = TokenBudget(self.max_history_tokens, model=model, tokenizer=provider.tokenizer())
        trimmed = budget.apply(candidate)
        reply = provider.complete(trimmed.messages).text
        self.last_trim = trimmed
        self.messages = [*candidate, {"role": "assistant", "content": reply}]
        return reply

    def clear_history(self) -> None:
        """Start a fresh conversation."""
        self.__post_init__()


@dataclass
class ConversationSession:
    """One conversation run as Chat Completions (``"chat"``) or Responses (``"responses"``).

    Both modes keep ``messages`` (system prompt first); responses mode also keeps
    ``last_response_id`` and sends only the new message on each turn.
    """

    client: Any
    mode: str = "chat"
    model: str = "gpt-4.1"
    system_prompt: str = "You are a helpful assistant."
    messages: list[dict[str, str]] = field(default_factory=list)
    last_response_id: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(
                f"Unknown mode {self.mode!r}: ConversationSession takes 'chat' or 'responses'."
            )
        self.model = _model_of(self.client, self.model)
        self._provider = provider_for_client(self.client, self.model, self.mode)
        self.messages = (
            [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        )

    def send(self, message: str) -> str:
        """Send a message and return the reply; on failure nothing changes."""
        outgoing = [*as_messages(self.messages), Message("user", message)]
        result = self._provider.complete(
            outgoing,
            previous_response_id=self.last_response_id if self.mode == "responses" else None,
        )
        if self.mode == "responses":
            self.last_response_id = result.response_id
        self.messages += [
            {"role": "user", "content": message},
            {"role": "assistant", "content": result.text},
        ]
        return result.text

    def summary(self) -> str:
        """The last three turns, one line each, cut to 100 characters only where needed."""
        return recent_summary(conversation_from_messages(self.messages), turns=3)

    def reset(self) -> None:
        """Forget the conversation (the system prompt stays)."""
        self.__post_init__()
        self.last_response_id = None
