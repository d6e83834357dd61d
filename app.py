"""chatkit: a chat that keeps context, and pages that show how. Run: streamlit run app.py"""

import streamlit as st

from chatkit.ui import state
from chatkit.ui.sidebar import render_sidebar

st.set_page_config(page_title="chatkit", page_icon=":material/forum:", layout="wide")

PAGES = [
    st.Page("pages/chat.py", title="Chat", icon=":material/chat:", default=True),
]

navigation = st.navigation(PAGES)
state.open_from_url()
render_sidebar()
navigation.run()
