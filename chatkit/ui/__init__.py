"""The Streamlit side: widgets and session state that several pages share.

``state`` (this session's ``ChatSession`` held in ``st.session_state``, the sidebar's settings,
the page's bookkeeping), ``sidebar``, ``turns`` (asking for a turn, and drawing it as it
streams), ``saving`` (the open conversation, ``?c=`` and undo), ``library`` (the saved list
and files), ``local_models`` (the Local model picker), ``teaching`` (the teaching pages'
header and captions) and ``charts``. Each page's own code lives in ``app_pages/``.
"""
