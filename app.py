"""chatkit: a chat that keeps context, and pages that show how. Run: streamlit run app.py"""

import streamlit as st

from chatkit.ui import saving, state
from chatkit.ui.sidebar import render_sidebar

st.set_page_config(page_title="chatkit", page_icon=":material/forum:", layout="wide")
state.begin_run()

PAGES = [
    st.Page("pages/chat.py", title="Chat", icon=":material/chat:", default=True),
    st.Page("pages/context_window.py", title="Context window", icon=":material/view_week:"),
    st.Page("pages/request_inspector.py", title="Request inspector", icon=":material/data_object:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/summary.py", title="Summary", icon=":material/summarize:"),
]

navigation = st.navigation(PAGES)
if warning := state.exposure():
    st.warning(warning, icon=":material/public:")
saving.open_from_url()
saving.sync_url()  # ?c= stays on every page, so a reload or a shared link reopens it
state.view().drawn_version = state.queue().version
render_sidebar()
navigation.run()
