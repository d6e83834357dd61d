"""The chat page."""

from chatkit.ui.chat_view import render_chat_page

render_chat_page()
