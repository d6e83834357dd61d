"""The conversation summary, and a new conversation seeded with it."""

from chatkit.ui.summary_page import render_summary_page

render_summary_page()
