"""What the model sees: the prompt a turn's request became, as text and as tokens.

A GGUF model (run here, or by an OpenAI-compatible server whose model is a GGUF file that is on
this machine too) reads what its chat template makes of the messages: the exact text, special
tokens and generation prompt included, and its token ids. OpenAI publishes its encodings
(tiktoken) but not the role and separator tokens it puts around each message: each message's
content is shown as tokens, and the rest only counted, as ``chatkit.tokens`` counts it. A
provider without a public tokenizer gets a count. A kind's record says which
(``ProviderKind.prompt_view``). Views are cached per model and messages; a long prompt shows
its first and last ``SHOWN_TOKENS`` tokens.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal

from chatkit.conversation import Conversation, ReplyInfo
from chatkit.encodings import get_encoding
from chatkit.errors import InvalidRequest, ModelLoadError
from chatkit.messages import Message
from chatkit.providers.anthropic_messages import MESSAGES, anthropic_request, messages_of
from chatkit.providers.local.files import model_file_named
from chatkit.providers.registry import provider_kind
from chatkit.teaching.inspector import messages_for_turn, shape_of
from chatkit.tokens import TOKENS_PER_MESSAGE, count_message_tokens, tokenizer_for_model

SHOWN_TOKENS = 2000  # at each end of a longer prompt
_CACHED_VIEWS = 32


@dataclass(frozen=True)
class TokenPiece:
    """Text the model reads as one token, or as several when a character is split between
    tokens (byte-level BPE): then one piece holds all their ids."""

    text: str
    ids: tuple[int, ...]
    special: bool = False  # a control token, such as the template's <|im_start|>


@dataclass(frozen=True)
class UnseenTokens:
    """Tokens a provider adds without publishing them as text: only how many, and for what."""

    label: str  # the message's role, or "reply" for the tokens that prime the reply
    count: int

    def describe(self) -> str:
        """What these tokens are, in words."""
        what = "to prime the reply" if self.label == "reply" else f"around the {self.label} message"
        return f"{self.count} tokens {what}, not published as text"


Part = TokenPiece | UnseenTokens


@dataclass(frozen=True)
class ModelView:
    """What the model read for one turn, as far as chatkit can show it.

    ``how``: "template" (the exact text and every token), "encoding" (each message's content
    as tokens, the provider's own markers only counted), "count" (no tokens can be shown).
    ``parts`` are drawn in order; a prompt of more than twice ``SHOWN_TOKENS`` keeps its first
    and last ones, ``hidden`` tokens being left out before ``parts[gap]``.
    """

    how: Literal["template", "encoding", "count"]
    sentence: str
    text: str = ""
    parts: tuple[Part, ...] = ()
    tokens: int | None = None
    hidden: int = 0
    gap: int = 0

    @property
    def hidden_line(self) -> str:
        """The line drawn where tokens were left out ("" when none were)."""
        if not self.hidden:
            return ""
        return f"… {self.hidden:,} tokens hidden (the first and last {SHOWN_TOKENS:,} are shown) …"

    def shown_text(self) -> str:
        """The text of the parts drawn, the hidden line where tokens were left out ("" for a
        view of pieces without the text around them)."""
        if not self.hidden or not self.text:
            return self.text
        head = "".join(p.text for p in self.parts[: self.gap] if isinstance(p, TokenPiece))
        tail = "".join(p.text for p in self.parts[self.gap :] if isinstance(p, TokenPiece))
        return f"{head}\n{self.hidden_line}\n{tail}"

    def rows(self) -> list[dict[str, object]]:
        """One row per part drawn: its position among all the tokens, its ids and its text."""
        rows: list[dict[str, object]] = []
        position = 0
        for index, part in enumerate(self.parts):
            if index == self.gap and self.hidden:
                position += self.hidden
            if isinstance(part, TokenPiece):
                ids, piece = " ".join(map(str, part.ids)), visible(part.text)
            else:
                ids, piece = "", f"({part.describe()})"
            rows.append({"position": position, "ids": ids, "piece": piece})
            position += size(part)
        return rows


def visible(text: str) -> str:
    """A piece with its line breaks and tabs written out, for a table cell."""
    return text.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def size(part: Part) -> int:
    """How many tokens a part stands for."""
    return len(part.ids) if isinstance(part, TokenPiece) else part.count


def group_pieces(tokens: Iterable[tuple[int, bytes, bool]]) -> list[TokenPiece]:
    """Tokens (id, bytes, special) as pieces of text: a token whose bytes end mid-character
    joins the next one, so every piece is whole text and the pieces join to the decoded whole."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pieces: list[TokenPiece] = []
    pending: list[int] = []
    for token, data, special in tokens:
        pending.append(token)
        text = decoder.decode(data)
        if text:
            pieces.append(TokenPiece(text, tuple(pending), special))
            pending = []
    tail = decoder.decode(b"", final=True)
    if pending or tail:
        pieces.append(TokenPiece(tail, tuple(pending)))
    return pieces


def cap(parts: Sequence[Part], keep: int = SHOWN_TOKENS) -> tuple[tuple[Part, ...], int, int]:
    """The parts to draw, the tokens left out and where: all of them, or the first and last
    ``keep`` tokens' worth when there are more than twice as many."""
    sizes = [size(p) for p in parts]
    if sum(sizes) <= 2 * keep:
        return tuple(parts), 0, 0
    head_end, shown = 0, 0
    while head_end < len(parts) and shown < keep:
        shown, head_end = shown + sizes[head_end], head_end + 1
    tail_start, shown = len(parts), 0
    while tail_start > head_end and shown < keep:
        tail_start -= 1
        shown += sizes[tail_start]
    hidden = sum(sizes[head_end:tail_start])
    return (*parts[:head_end], *parts[tail_start:]), hidden, head_end


def _view(
    how: Literal["template", "encoding"], sentence: str, text: str, parts: list[Part]
) -> ModelView:
    shown, hidden, gap = cap(parts)
    return ModelView(how, sentence, text, shown, sum(size(p) for p in parts), hidden, gap)


# -- a GGUF model's chat template ---------------------------------------------------------------


def rendered_prompt(
    path: Path, messages: Sequence[Message], prompt: str | None = None
) -> tuple[str, tuple[TokenPiece, ...]]:
    """The prompt the GGUF file at ``path`` makes of ``messages`` with its own chat template
    (or ``prompt``, when the exact one was kept), and its tokens as pieces. Loads the model
    (once per process, shared with the local provider)."""
    from chatkit.providers.local.model import LocalModel  # loads llama.cpp

    tokenizer = LocalModel(model_path=path).tokenizer()
    text = prompt if prompt is not None else tokenizer.render_prompt(messages)
    tokens = tokenizer.prompt_tokens(text)
    return text, tuple(group_pieces((t.id, t.piece, t.control) for t in tokens))


def _template_view(
    path: Path, messages: Sequence[Message], prompt: str | None, lead: str
) -> ModelView:
    """``lead`` says whose prompt this is; the count and where the text came from follow."""
    try:
        return _cached_template_view(path, tuple(messages), prompt, lead)
    except (ModelLoadError, InvalidRequest) as error:  # not cached: the next run tries again
        return ModelView("count", f"{path.name} cannot show this prompt here: {error.message}")


@lru_cache(maxsize=_CACHED_VIEWS)
def _cached_template_view(
    path: Path, messages: tuple[Message, ...], prompt: str | None, lead: str
) -> ModelView:
    text, pieces = rendered_prompt(path, messages, prompt)
    tokens = sum(len(p.ids) for p in pieces)
    source = "exactly as it was sent" if prompt is not None else "rendered from the messages"
    return _view("template", f"{lead}: {tokens:,} tokens, {source}.", text, list(pieces))


def _kept_prompt(info: ReplyInfo | None) -> str | None:
    """The rendered prompt a local model's request body kept, if it did."""
    body = info.request_body if info is not None else None
    prompt = body.get("prompt") if isinstance(body, dict) else None
    return prompt if isinstance(prompt, str) else None


def _served_names(info: ReplyInfo | None, model: str) -> list[str]:
    """The names a server's model goes by: the one asked for, and the one it answered with."""
    answered = (info.response_body or {}).get("model") if info is not None else None
    return [name for name in (model, answered) if isinstance(name, str) and name]


# -- a public encoding without the provider's own markers ------------------------------------------


def encoded_messages(model: str, messages: tuple[Message, ...]) -> tuple[Part, ...]:
    """Each message as its content's tokens in ``model``'s tiktoken encoding, after the count
    of the role and separator tokens around it; the reply's priming last. Their tokens add up
    to ``count_tokens(messages, model)``."""
    tokenizer = tokenizer_for_model(model)
    encoding = get_encoding(tokenizer.encoding_name)
    parts: list[Part] = []
    for message in messages:
        ids = encoding.encode_ordinary(message.content)
        parts.append(UnseenTokens(message.role, tokenizer.count_message(message) - len(ids)))
        tokens = zip(ids, encoding.decode_tokens_bytes(ids), [False] * len(ids), strict=True)
        parts.extend(group_pieces(tokens))
    parts.append(UnseenTokens("reply", tokenizer.reply_priming))
    return tuple(parts)


@lru_cache(maxsize=_CACHED_VIEWS)
def _encoding_view(provider: str, model: str, messages: tuple[Message, ...]) -> ModelView:
    tokenizer = tokenizer_for_model(model)
    parts = list(encoded_messages(model, messages))
    total = sum(size(p) for p in parts)
    sentence = (
        f"{provider} does not publish as text the role and separator tokens it wraps each "
        f"message in, so each message's content is shown in {tokenizer.encoding_name} tokens "
        f"and those are counted as count_tokens counts them ({TOKENS_PER_MESSAGE} per message "
        f"plus its role, {tokenizer.reply_priming} to prime the reply): {total:,} tokens in all."
    )
    if not tokenizer.exact:
        sentence = f"{sentence} {tokenizer.note}"
    return _view("encoding", sentence, "", parts)


# -- only a count ---------------------------------------------------------------------------------


def _count_view(
    reason: str, provider: str, model: str, info: ReplyInfo | None, messages: Sequence[Message]
) -> ModelView:
    """``reason`` (why no tokens can be shown), then the provider's count if it reported one,
    else chatkit's estimate."""
    if info is not None and info.input_tokens is not None and not info.tokens_estimated:
        return ModelView(
            "count",
            f"{reason}: {provider} counted {info.input_tokens:,} input tokens for this request.",
            tokens=info.input_tokens,
        )
    counted = count_message_tokens(messages, model or "gpt-4o")
    return ModelView(
        "count",
        f"{reason}: chatkit estimates about {counted.total:,} tokens ({counted.tokenizer}).",
        tokens=counted.total,
    )


# -- the door -------------------------------------------------------------------------------------


def what_the_model_sees(
    conversation: Conversation,
    assistant_index: int,
    *,
    fallback_provider: str = "",
    fallback_mode: str = "chat",
    fallback_model: str = "",
) -> ModelView:
    """What the model read for the reply at ``assistant_index``, as its provider allows.

    The fallbacks (the sidebar's choice) stand in for a reply that recorded no provider or
    model; ``fallback_model`` is also tried as the local model's file.
    """
    messages = messages_for_turn(conversation, assistant_index)
    info = conversation.replies.get(assistant_index)
    provider = info.provider if info and info.provider else fallback_provider
    model = info.model if info and info.model else fallback_model
    shows = provider_kind(provider).prompt_view
    if shows in ("template", "served") and shape_of(info, fallback_provider, fallback_mode) == (
        MESSAGES
    ):
        # Sent in the Messages shape: the model got the turns that body holds.
        messages = messages_of(anthropic_request(messages, model))
    if shows == "template":
        path = model_file_named(model, hint=fallback_model)
        if path is None:
            reason = f"The GGUF file of the local model {model} is not on this machine"
            return _count_view(reason, provider, model, info, messages)
        lead = (
            f"The prompt the local model read, written by the chat template of {path.name} "
            f"with its special tokens and the generation prompt"
        )
        return _template_view(path, messages, _kept_prompt(info), lead)
    if shows == "served":
        path = next(filter(None, map(model_file_named, _served_names(info, model))), None)
        if path is None:
            reason = (
                f"The chat template of the server's model {model} is not known here (no GGUF "
                f"file of that name is on this machine), so its tokens cannot be shown"
            )
            return _count_view(reason, provider, model, info, messages)
        lead = (
            f"The prompt the server's {model} read if it runs {path.name} (a file of that name "
            f"is on this machine), written by that file's chat template with its special "
            f"tokens and the generation prompt"
        )
        view = _template_view(path, messages, None, lead)
        reported = info.input_tokens if info is not None and not info.tokens_estimated else None
        if view.how == "template" and reported is not None:
            return replace(view, sentence=f"{view.sentence} The server counted {reported:,}.")
        return view
    if shows == "encoding":
        return _encoding_view(provider, model, tuple(messages))
    reason = f"{provider} does not publish the tokenizer of {model}, so its tokens cannot be shown"
    return _count_view(reason, provider, model, info, messages)
