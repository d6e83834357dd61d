"""The context window page: how the conversation fills the model's window, and trimming."""

from chatkit.ui.context_page import render_context_window_page

render_context_window_page()
