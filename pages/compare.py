"""Stateless vs. manual history vs. chaining, side by side."""

from chatkit.ui.compare_page import render_compare_page

render_compare_page()
