"""chatkit: a chat that keeps context, and pages that show how. Run: streamlit run app.py"""

import streamlit as st

from chatkit.ui import saving, state
from chatkit.ui.sidebar import render_sidebar

st.set_page_config(page_title="chatkit", page_icon=":material/forum:", layout="wide")
state.begin_run()

classroom = state.config().classroom
PAGES = [
    # First in the list; a class's join link (/lessons?join=CODE) lands here.
    st.Page("app_pages/lessons.py", title="Lessons", icon=":material/school:"),
    st.Page("app_pages/chat.py", title="Chat", icon=":material/chat:", default=True),
    st.Page("app_pages/context_window.py", title="Context window", icon=":material/view_week:"),
    st.Page(
        "app_pages/request_inspector.py",
        title="Request inspector",
        icon=":material/data_object:",
    ),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("app_pages/summary.py", title="Summary", icon=":material/summarize:"),
    # Always reachable at /teacher (it says what to do); listed where teacher access is set up.
    st.Page(
        "app_pages/teacher.py",
        title="Teacher",
        icon=":material/co_present:",
        visibility="visible" if classroom.teacher_access else "hidden",
    ),
]

navigation = st.navigation(PAGES)
if warning := state.exposure():
    st.warning(warning, icon=":material/public:")
saving.open_from_url()
saving.sync_url()  # ?c= stays on every page, so a reload or a shared link reopens it
state.view().drawn_version = state.queue().version
render_sidebar()
navigation.run()
