"""Markdown that cannot fetch anything: text from models, users, imports and servers, made inert.

Streamlit renders Markdown, and an image in it (``![](http://…/pixel.png?d=…)``) makes every
viewer's browser fetch that address, leaking what the page shows. ``inert_markdown`` keeps the
text readable and its formatting, but turns every image into a link (or, where it cannot be
read as one, plain text), and raw HTML into visible text. Code blocks and code spans are left
exactly as written. Streamlit itself never runs scripts or raw HTML from ``st.markdown``
unless asked, and its links open only on a click.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from markdown_it import MarkdownIt

_parser = MarkdownIt("commonmark")
# ![alt](url "title") with no brackets in the alt text and no spaces in the address.
_INLINE_IMAGE = re.compile(
    r"!\[([^\[\]\n]*)\]\(\s*<?([^\s()<>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
# The start of an HTML tag or comment, but not an autolink such as <https://example.com>.
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])(?!(?:https?|mailto):)")
_BACKTICKS = re.compile(r"`+")


def inert(text: str) -> str:
    """``text`` as Markdown that renders the same but loads nothing remote."""
    if "![" not in text and "<" not in text:
        return text
    careful = _inert_outside_code_blocks(text, _inert_line)
    if not _has_image_or_html(careful):
        return careful
    # A code span across lines can hide what a line-by-line reading sees: escape inside code
    # spans too (they then show "&lt;" as written, a rare and harmless price).
    return _inert_outside_code_blocks(text, _inert_text)


def _inert_outside_code_blocks(text: str, inert_line: Callable[[str], str]) -> str:
    """Every line outside fenced and indented code blocks made inert by ``inert_line``."""
    # Making one line inert can change how the next is read (an indented line after an HTML
    # block is code; after a paragraph it is not), so repeat until nothing changes. Every
    # round removes a "<" or "![", so this ends.
    while True:
        verbatim: set[int] = set()
        for token in _parser.parse(text):
            if token.type in ("fence", "code_block") and token.map:
                verbatim.update(range(*token.map))
        lines = text.split("\n")
        changed = "\n".join(
            line if number in verbatim else inert_line(line) for number, line in enumerate(lines)
        )
        if changed == text:
            return text
        text = changed


def _has_image_or_html(text: str) -> bool:
    for token in _parser.parse(text):
        if token.type == "html_block":
            return True
        if any(child.type in ("image", "html_inline") for child in token.children or []):
            return True
    return False


# Messages are drawn again on every rerun: remember the recent ones.
inert_markdown = lru_cache(maxsize=4096)(inert)


def _inert_line(line: str) -> str:
    """One line outside code blocks: code spans kept, the rest made inert."""
    parts: list[str] = []
    position = 0
    for opening in _BACKTICKS.finditer(line):
        if opening.start() < position:
            continue
        closing = re.compile(rf"(?<!`){re.escape(opening.group())}(?!`)")
        end = closing.search(line, opening.end())
        if end is None:
            continue
        parts.append(_inert_text(line[position : opening.start()]))
        parts.append(line[opening.start() : end.end()])
        position = end.end()
    parts.append(_inert_text(line[position:]))
    return "".join(parts)


def _inert_text(text: str) -> str:
    text = _INLINE_IMAGE.sub(_image_as_link, text)
    text = text.replace("![", "!\\[")  # any other image syntax: shown as written
    return _HTML_START.sub("&lt;", text)


def _image_as_link(match: re.Match[str]) -> str:
    alt, address = match.group(1).strip(), match.group(2)
    label = f"image: {alt}" if alt else "image"
    if not address.lower().startswith(("http://", "https://")):
        return f"[{label}]"
    return f"[{label}]({address})"
