"""Message text renders as Markdown but can never load anything: images become links."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from chatkit.markdown import inert, inert_markdown

PARSER = MarkdownIt("commonmark")


def _images_and_html(text: str) -> list[str]:
    """Every image, and every raw HTML piece, a Markdown renderer would see in ``text``."""
    found = []
    for token in PARSER.parse(text):
        if token.type == "html_block":
            found.append(token.content)
        for child in token.children or []:
            if child.type in ("image", "html_inline"):
                found.append(child.type)
    return found


def test_an_image_becomes_a_link_to_it() -> None:
    text = "Look: ![a cat](http://127.0.0.1:9/pixel.png?d=secret) there"
    assert (
        inert_markdown(text) == "Look: [image: a cat](http://127.0.0.1:9/pixel.png?d=secret) there"
    )


def test_reference_images_and_html_show_as_text() -> None:
    text = '![logo][l] <img src="http://x/y.png"> <b>bold</b>\n\n[l]: http://x/logo.png'
    assert _images_and_html(inert_markdown(text)) == []
    assert "&lt;img" in inert_markdown(text)


def test_code_is_left_exactly_as_written() -> None:
    text = "Use `![x](http://e/p.png)` like this:\n\n```md\n![x](http://e/p.png)\n<img src=x>\n```"
    assert inert_markdown(text) == text


def test_plain_text_and_autolinks_are_untouched() -> None:
    for text in ("Hello **world**", "See <https://example.com>.", "a < b and c > d"):
        assert inert_markdown(text) == text


_pieces = st.sampled_from(
    [
        "![",
        "](",
        ")",
        "]",
        "[",
        "http://127.0.0.1:9/p.png",
        "<img src=x>",
        "<",
        "`",
        "```",
        "\n",
        " ",
        "a",
        "!",
        "~~~",
        "    ",
        "<!-- c -->",
        '"t"',
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_pieces, max_size=40).map("".join))
def test_no_text_renders_an_image_or_raw_html(text: str) -> None:
    assert _images_and_html(inert(text)) == []


def test_what_one_line_hides_from_the_next_is_still_made_inert() -> None:
    # An indented line after an HTML block is code; after the escaped block it is not.
    # A code span across two lines leaves the HTML after it outside any span.
    for text in ("<!-- c -->\n    <!-- c -->", "`\n`<!-- c -->`", "`a\n`<img src=x>`"):
        assert _images_and_html(inert(text)) == [], text
