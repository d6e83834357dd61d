"""The baseline for bench/load.py: the smallest Streamlit chat app with the same page shape.

Streamlit's own chat tutorial, on the official OpenAI SDK: the history in session state, each
message drawn, the reply streamed with ``st.write_stream`` and a caption under it (in the words
the load client waits for). Whatever chatkit costs per turn beyond this is chatkit's own.
"""

import openai
import streamlit as st

CAPTION = "tokens in · 1 KB sent"

if "messages" not in st.session_state:
    st.session_state.messages = []
for message in st.session_state.messages:
    with st.chat_message(message["role"]):
        st.markdown(message["content"])
        if message["role"] == "assistant":
            st.caption(CAPTION)
if prompt := st.chat_input("Say something"):
    st.session_state.messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        stream = openai.OpenAI().chat.completions.create(
            model="gpt-4.1-mini", messages=st.session_state.messages, stream=True
        )
        reply = st.write_stream(
            chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices
        )
        st.caption(CAPTION)
    st.session_state.messages.append({"role": "assistant", "content": reply})
