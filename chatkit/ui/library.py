"""The saved conversations in the sidebar: find, open, rename, delete (with undo), download and
import (asking before an import would duplicate or replace one)."""

from __future__ import annotations

from functools import partial

import streamlit as st

from chatkit.conversation import Conversation, new_conversation_id
from chatkit.dates import when_saved
from chatkit.errors import ChatkitError, InvalidDocument
from chatkit.export import from_json, to_json, to_markdown
from chatkit.markdown import inert_markdown
from chatkit.ui import saving, state

MAX_LISTED = 30
IMPORT_ERROR_KEY = "import_error"
IMPORT_PENDING_KEY = "import_pending"


def _on_new() -> None:
    saving.open_conversation(saving.new_conversation())


def _on_open(conversation_id: str) -> None:
    try:
        loaded = state.session().open_saved(conversation_id)
    except ChatkitError as error:
        state.view().notice = error.message
        return
    if loaded is None:
        state.view().notice = "That conversation is no longer saved here."
        return
    saving.open_conversation(loaded)


def _on_rename(conversation_id: str) -> None:
    title = (st.session_state.get(f"title_{conversation_id}") or "").strip()
    if not title or state.conversation().id != conversation_id:
        return

    def retitled(conversation: Conversation) -> Conversation:
        conversation.title = title
        return conversation

    try:
        state.queue().update(retitled)
    except ChatkitError as error:
        state.view().notice = error.message


def _on_delete(conversation_id: str) -> None:
    store = state.store()
    if store is None:
        return
    deleted = store.load(conversation_id)
    if deleted is not None:
        saving.remember_for_undo("Deleted", deleted)
    store.delete(conversation_id)
    if state.conversation().id == conversation_id:
        _on_new()


def conversations_section() -> None:
    """New conversation, a search box, the saved list (newest first, with dates), and rename or
    delete for the open one."""
    current = state.conversation()
    session = state.session()
    config = session.config
    st.button("New conversation", icon=":material/add:", use_container_width=True, on_click=_on_new)
    store = state.store()
    if store is None:
        return
    search = st.text_input(
        "Search conversations",
        key="search",
        placeholder="Words in a title or a message",
        label_visibility="collapsed",
    )
    try:
        saved = store.list(
            session.owner, include_all=not config.hosted, search=search, limit=MAX_LISTED + 1
        )
    except ChatkitError as error:
        st.caption(inert_markdown(error.message))
        return
    if search.strip() and not saved:
        st.caption("No saved conversation holds those words.")
    zone = st.context.timezone  # the browser's (None until it says; then UTC)
    for item in saved[:MAX_LISTED]:
        is_open = item.id == current.id
        st.button(
            f"{inert_markdown(item.title) or 'Untitled'} · {when_saved(item.updated_at, zone)}",
            key=f"open_{item.id}",
            icon=":material/chat_bubble:" if is_open else ":material/chat_bubble_outline:",
            use_container_width=True,
            type="secondary" if is_open else "tertiary",
            on_click=_on_open,
            args=(item.id,),
            help=f"{item.message_count} messages",
        )
    if len(saved) > MAX_LISTED:
        st.caption("Older conversations are not listed: search to find them.")
    if current.version:
        with st.expander("Rename or delete"):
            st.text_input("Title", value=current.title, key=f"title_{current.id}")
            left, right = st.columns(2)
            left.button("Rename", use_container_width=True, on_click=_on_rename, args=(current.id,))
            right.button(
                "Delete",
                use_container_width=True,
                type="primary",
                on_click=_on_delete,
                args=(current.id,),
                help="Deleted conversations can be brought back with Undo, until the next one.",
            )


def files_section() -> None:
    current = state.conversation()
    left, right = st.columns(2)
    name = (current.title or "conversation").strip().replace("/", "-")[:40] or "conversation"
    left.download_button(
        "JSON",
        partial(to_json, current),
        f"{name}.json",
        "application/json",
        use_container_width=True,
        on_click="ignore",
    )
    right.download_button(
        "Markdown",
        partial(to_markdown, current),
        f"{name}.md",
        "text/markdown",
        use_container_width=True,
        on_click="ignore",
    )
    upload = st.file_uploader(
        "Import a conversation (JSON)", type=["json"], key="import_file", on_change=_on_upload
    )
    failed = st.session_state.get(IMPORT_ERROR_KEY)
    if upload is not None and failed is not None and failed[0] == upload.file_id:
        st.error(inert_markdown(failed[1]), icon=":material/error:")
    import_question()


def _import_limits() -> dict[str, int]:
    config = state.config()
    if not config.hosted:
        return {}
    return {
        "max_messages": config.limits.max_import_messages,
        "max_chars": config.limits.max_import_chars,
    }


def _on_upload() -> None:
    """Open an uploaded conversation; a malformed file changes nothing and says why. A file
    whose conversation is already saved here asks first: replace it, or keep both."""
    upload = st.session_state.get("import_file")
    if upload is None:
        return
    try:
        imported = from_json(upload.getvalue(), keep_id=True, **_import_limits())
    except InvalidDocument as error:
        st.session_state[IMPORT_ERROR_KEY] = (upload.file_id, error.message)
        return
    st.session_state.pop(IMPORT_ERROR_KEY, None)
    store = state.store()
    existing = store.load(imported.id) if store is not None else None
    mine = existing is not None and (
        not state.config().hosted or store.owner_of(imported.id) == state.session().owner
    )
    if mine:
        st.session_state[IMPORT_PENDING_KEY] = imported
        return
    if existing is not None:  # someone else's: never replaced
        imported.id = new_conversation_id()
    _open_imported(imported)


def _open_imported(imported: Conversation) -> None:
    saving.open_conversation(saving.save_now(imported))
    state.view().notice = f"Imported “{imported.title or 'Untitled'}”: continue it below."


def _on_import_decision(choice: str) -> None:
    imported: Conversation | None = st.session_state.pop(IMPORT_PENDING_KEY, None)
    if imported is None or choice == "cancel":
        return
    store = state.store()
    if choice == "replace" and store is not None:
        existing = store.load(imported.id)
        imported.version = existing.version if existing is not None else 0
    else:
        imported.id, imported.version = new_conversation_id(), 0
        imported.title = f"{imported.title or 'Untitled'} (imported)"
    _open_imported(imported)


def import_question() -> None:
    """Ask what to do with an import whose conversation is already saved."""
    pending: Conversation | None = st.session_state.get(IMPORT_PENDING_KEY)
    if pending is None:
        return
    st.warning(
        f"“{inert_markdown(pending.title or 'Untitled')}” is already saved here: replace the "
        f"saved one with the file, or keep both?",
        icon=":material/content_copy:",
    )
    replace_column, both_column, cancel_column = st.columns(3)
    replace_column.button(
        "Replace", key="import_replace", on_click=_on_import_decision, args=("replace",)
    )
    both_column.button("Keep both", key="import_both", on_click=_on_import_decision, args=("both",))
    cancel_column.button(
        "Cancel", key="import_cancel", on_click=_on_import_decision, args=("cancel",)
    )
