"""Download and upload conversations: versioned JSON (re-importable) and Markdown."""

from __future__ import annotations

import json

from chatkit.conversation import Conversation, new_conversation_id
from chatkit.errors import InvalidDocument
from chatkit.messages import ROLE_LABELS
from chatkit.providers.registry import provider_kind

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_MESSAGES = 10_000
MAX_IMPORT_CHARS = 5_000_000


def to_json(conversation: Conversation) -> str:
    """The conversation as pretty JSON (no request bodies, never a key)."""
    return json.dumps(conversation.to_dict(), ensure_ascii=False, indent=2)


def to_markdown(conversation: Conversation) -> str:
    """A readable transcript: the system prompt, then each message under its role."""
    lines = [f"# {conversation.title or 'Conversation'}", ""]
    if conversation.system_prompt:
        lines += ["**System prompt:**", "", f"> {conversation.system_prompt}", ""]
    for position, message in enumerate(conversation.messages):
        lines += [f"### {ROLE_LABELS[message.role]}", "", message.content, ""]
        reply = conversation.replies.get(position)
        if reply is not None and reply.input_tokens is not None:
            mode = provider_kind(reply.provider).mode_label(reply.mode)
            lines += [
                f"*{reply.provider} {reply.model}, {mode}: {reply.input_tokens} tokens in, "
                f"{reply.output_tokens} out*",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def from_json(
    data: bytes | str,
    *,
    max_messages: int = MAX_IMPORT_MESSAGES,
    max_chars: int = MAX_IMPORT_CHARS,
    keep_id: bool = False,
) -> Conversation:
    """Read an uploaded JSON file; anything malformed or too big raises ``InvalidDocument``.

    The imported conversation gets a new id, so it never overwrites a saved one, unless
    ``keep_id`` (the caller then decides what to do when that id is already saved).
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidDocument(
            f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB: it is not a "
            f"conversation chatkit exported."
        )
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidDocument(
            "The file is not valid JSON: choose a conversation downloaded as JSON."
        ) from exc
    except RecursionError as exc:
        raise InvalidDocument(
            "The file nests its data too deeply to be a conversation chatkit exported."
        ) from exc
    except ValueError as exc:  # e.g. an integer with thousands of digits
        raise InvalidDocument(
            "The file holds a number too large to be part of a conversation."
        ) from exc
    messages = document.get("messages") if isinstance(document, dict) else None
    if isinstance(messages, list) and len(messages) > max_messages:
        raise InvalidDocument(
            f"The file holds {len(messages):,} messages, more than the {max_messages:,} this "
            f"app imports: split the conversation, or import a shorter one."
        )
    conversation = Conversation.from_dict(document)
    chars = sum(len(m.content) for m in conversation.messages) + len(conversation.system_prompt)
    if chars > max_chars:
        raise InvalidDocument(
            f"The conversation holds {chars:,} characters, more than the {max_chars:,} this app "
            f"imports: import a shorter one."
        )
    if not keep_id:
        conversation.id = new_conversation_id()
    conversation.version = 0
    # Request and response bodies in a file are not what this app sent: keep only the figures.
    conversation.replies = {i: r.without_bodies() for i, r in conversation.replies.items()}
    conversation.extra_calls = [call.without_bodies() for call in conversation.extra_calls]
    return conversation
