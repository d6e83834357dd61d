"""The figures the teaching pages draw, computed without Streamlit.

``context_view`` (how a conversation fills the context window, and what trimming keeps;
``summary_preview`` the summary it would show),
``inspector`` (what a turn really sent, and the same turn in every API), ``model_view`` (what
the model read of it, as text and tokens; ``token_chips`` draws those as escaped HTML) and
``compare`` (one script run stateless, with a manual history, and chained).
"""
