"""The Streamlit side: widgets and session state that several pages share.

``state`` (the session's conversation, settings and resources), ``sidebar``, ``turns`` (taking
a turn: stream, stop, settle), ``teaching`` (the
teaching pages' header and captions) and ``charts``. Each page's own code lives in ``pages/``.
"""
