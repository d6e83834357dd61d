"""Exact token counts for a local model: its own tokenizer, through its own chat template."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from chatkit.messages import Message
from chatkit.providers.local.runtime import LoadedModel

# A stand-in system prompt: other messages are measured after it, as in a typical conversation.
_PROBE_SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
_PROBE_USER = {"role": "user", "content": "Hello."}
_MAX_CACHED_COUNTS = 50_000


def wire_message(message: Message) -> dict[str, str]:
    """A message as the chat template gets it: ``developer`` becomes ``system``, no name."""
    return {
        "role": "system" if message.is_instruction else message.role,
        "content": message.content,
    }


@dataclass(frozen=True)
class PromptToken:
    """One token of a rendered prompt: its id, the bytes it stands for (a control token's as
    its text), and whether it is a control token such as ``<|im_start|>``."""

    id: int
    piece: bytes
    control: bool


@dataclass(frozen=True, eq=False)
class LocalTokenizer:
    """Exact token counts for a local model, through its own tokenizer and chat template.

    ``count_message`` is the number of tokens a message adds once rendered by the template
    (after a system prompt); ``reply_priming`` is the template's generation prompt. For a
    conversation that starts with a system prompt their sum is the rendered prompt's length;
    ``note`` says so when the template adds a default system prompt of its own.
    """

    model: LoadedModel
    exact: bool = True
    _counts: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.model.path.name

    @cached_property
    def reply_priming(self) -> int:
        conversation = [_PROBE_SYSTEM, _PROBE_USER]
        return self._rendered(conversation, True) - self._rendered(conversation, False)

    @cached_property
    def note(self) -> str:
        user = Message("user", _PROBE_USER["content"])
        implicit = self.count_prompt([user]) - self.count_message(user) - self.reply_priming
        if implicit == 0:
            return ""
        return (
            f"Without a system prompt, the chat template of {self.name} adds its own "
            f"({implicit} tokens), which these counts leave out."
        )

    def count_text(self, text: str) -> int:
        """Tokens in ``text`` as plain text (control-token strings are not parsed)."""
        return len(self.model.tokenize(text, special=False))

    def count_message(self, message: Message) -> int:
        """Tokens ``message`` adds to the rendered prompt, role markers included (each
        distinct role and content is rendered once, then looked up)."""
        key = ("system" if message.is_instruction else message.role, message.content)
        count = self._counts.get(key)
        if count is None:
            wire = wire_message(message)
            context = {"system": [], "assistant": [_PROBE_SYSTEM, _PROBE_USER]}.get(
                wire["role"], [_PROBE_SYSTEM]
            )
            count = self._rendered([*context, wire], False) - self._rendered(context, False)
            if len(self._counts) >= _MAX_CACHED_COUNTS:
                self._counts.clear()
            self._counts[key] = count
        return count

    def count_prompt(self, messages: Sequence[Message]) -> int:
        """Tokens of the whole rendered prompt for ``messages``, reply priming included."""
        return self._rendered([wire_message(m) for m in messages], True)

    def render_prompt(self, messages: Sequence[Message]) -> str:
        """The prompt the chat template makes of ``messages``, generation prompt included."""
        return self.model.render([wire_message(m) for m in messages], generation_prompt=True)

    def prompt_tokens(self, prompt: str) -> list[PromptToken]:
        """Every token of a rendered ``prompt`` (control tokens parsed), as ``count_prompt``
        counts them, with the bytes each stands for."""
        return [
            PromptToken(token, self.model.shown_piece(token), self.model.is_control(token))
            for token in self.model.tokenize(prompt)
        ]

    def _rendered(self, messages: Sequence[Mapping[str, str]], generation_prompt: bool) -> int:
        if not messages:
            return 0
        return len(
            self.model.tokenize(self.model.render(messages, generation_prompt=generation_prompt))
        )


_tokenizers: weakref.WeakKeyDictionary[LoadedModel, LocalTokenizer] = weakref.WeakKeyDictionary()
_tokenizers_lock = threading.Lock()


def tokenizer_of(model: LoadedModel) -> LocalTokenizer:
    """Exact token counts for ``model``: one tokenizer per loaded model, so its count cache is
    shared by every session."""
    with _tokenizers_lock:
        tokenizer = _tokenizers.get(model)
        if tokenizer is None:
            tokenizer = _tokenizers[model] = LocalTokenizer(model)
        return tokenizer
