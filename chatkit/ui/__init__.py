"""The Streamlit side: widgets and session state that several pages share.

``state`` (this session's ``ChatSession``, the sidebar's settings, the page's bookkeeping),
``sidebar``, ``turns`` (asking for a turn, and drawing it as it streams), ``teaching`` (the
teaching pages' header and captions) and ``charts``. Each page's own code lives in ``pages/``.
"""
