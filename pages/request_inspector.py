"""The request inspector: the exact JSON of each turn, and the same turn in every API."""

from chatkit.ui.inspector_page import render_request_inspector_page

render_request_inspector_page()
