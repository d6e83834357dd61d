"""A model view's tokens as HTML: one coloured chip per token, its id on hover.

Token text comes from users and models, so every piece is escaped (``html.escape``) before it
is placed in the markup; the markup itself holds only fixed tags, styles and numbers. The
colours are translucent tints over the page's own background and text colour, so the same
chips read in the light and the dark theme.
"""

from __future__ import annotations

from html import escape

from chatkit.teaching.model_view import ModelView, Part, TokenPiece, UnseenTokens

# Alternating tints: neighbouring tokens always differ.
PALETTE = (
    "rgba(59, 130, 246, 0.22)",
    "rgba(34, 197, 94, 0.22)",
    "rgba(245, 158, 11, 0.26)",
    "rgba(236, 72, 153, 0.20)",
    "rgba(139, 92, 246, 0.22)",
    "rgba(20, 184, 166, 0.22)",
)
SPECIAL_TINT = "rgba(148, 163, 184, 0.38)"
_BOX = (
    "font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.85rem; "
    "line-height: 1.9; white-space: pre-wrap; overflow-wrap: anywhere"
)
_CHIP = "border-radius: 3px; padding: 1px 0"
_SPECIAL = "font-weight: 600; outline: 1px solid rgba(148, 163, 184, 0.8)"
_UNSEEN = (
    "border: 1px dashed currentColor; border-radius: 3px; padding: 0 4px; opacity: 0.65; "
    "font-style: italic"
)
_GAP = "display: block; margin: 0.6em 0; opacity: 0.7; font-style: italic"


def chip(piece: TokenPiece, number: int) -> str:
    """One piece as a span: its escaped text (a line break shown as ↵ before it), tinted by
    ``number``, its id(s) in the title."""
    ids = ", ".join(map(str, piece.ids))
    title = f"id {ids}" if len(piece.ids) == 1 else f"ids {ids}"
    text = escape(piece.text).replace("\n", "↵\n")
    style = (
        f"background: {SPECIAL_TINT}; {_CHIP}; {_SPECIAL}"
        if piece.special
        else (f"background: {PALETTE[number % len(PALETTE)]}; {_CHIP}")
    )
    return f'<span title="{title}" style="{style}">{text}</span>'


def _unseen(part: UnseenTokens, first: bool) -> str:
    """A message's unpublished tokens as a dashed label, on a line of its own."""
    title = escape(part.describe(), quote=True)
    start = "" if first else "\n"
    return (
        f'{start}<span title="{title}" style="{_UNSEEN}">{escape(part.label)} +{part.count}</span> '
    )


def tokens_html(view: ModelView) -> str:
    """The view's parts as escaped HTML chips, with a line where tokens were left out."""
    chunks: list[str] = [f'<div style="{_BOX}">']
    number = 0
    for index, part in enumerate(view.parts):
        if index == view.gap and view.hidden:
            chunks.append(f'<span style="{_GAP}">{escape(view.hidden_line)}</span>')
        chunks.append(_part(part, number, first=index == 0))
        number += isinstance(part, TokenPiece)
    chunks.append("</div>")
    return "".join(chunks)


def _part(part: Part, number: int, *, first: bool) -> str:
    if isinstance(part, TokenPiece):
        return chip(part, number)
    return _unseen(part, first)
