"""Driving the whole app (``app.py``) under Streamlit's ``AppTest``.

``start()`` gives a :class:`ChatApp`: an AppTest whose methods act as a person would and read
what the page shows; ``rerun()`` works around an AppTest quirk (see its docstring). The
environment comes from ``configure_env`` (or the ``app`` fixture in tests/conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.server import ProtocolServer

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
OPENAI_MODEL = "gpt-4.1-mini"  # the sidebar's first OpenAI suggestion
ANTHROPIC_MODEL = "claude-sonnet-4-6"  # the sidebar's first Anthropic suggestion
CLEARED_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "CHATKIT_HOSTED",
    "CHATKIT_DATABASE_URL",
    "CHATKIT_DATA_DIR",
    "CHATKIT_HOSTED_TURN_LIMIT",
    "CHATKIT_HOSTED_TOKEN_LIMIT",
    "CHATKIT_LOCAL_MODEL",
)


def configure_env(
    monkeypatch: pytest.MonkeyPatch,
    server: ProtocolServer,
    data_dir: Path,
    *,
    keyless: bool = False,
    **overrides: str | None,
) -> None:
    """Point the app's SDKs at the protocol server and its database at ``data_dir``.

    The app reads ``os.environ`` on every run, so a test may change a variable between runs.
    ``keyless``: no API key and no endpoint at all (as a new user's machine has none);
    ``overrides`` set more variables; ``None`` removes one.
    """
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    keys = {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": server.openai_base_url,
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "ANTHROPIC_BASE_URL": server.anthropic_base_url,
    }
    values: dict[str, str | None] = {
        **({} if keyless else keys),
        "CHATKIT_DATA_DIR": str(data_dir),
        **overrides,
    }
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


class ChatApp(AppTest):
    """``app.py`` under AppTest, driven and read as a person would: ``send``, ``click`` and
    ``choose`` act and rerun; ``bubbles``, ``replies``, ``captions`` and ``alerts`` read what
    the page shows. Everything AppTest offers (``error``, ``sidebar``...) is there too."""

    def rerun(self, *, allow_exception: bool = False) -> ChatApp:
        """Run the app again from its current widget state, like a browser rerun.

        Why not ``run()``: once a run leaves a query parameter in the URL (the app sets
        ``?c=<conversation id>`` after each saved turn), AppTest (streamlit 1.67) asks the next
        run for the page the previous run *finished on*, and with ``st.navigation`` that makes
        it execute only the page script and skip ``app.py`` - the sidebar vanishes from the
        tree. A browser always reruns ``app.py``. Clearing the remembered page hashes before
        each run makes AppTest rerun ``app.py``, which navigates to the default (chat) page, as
        a browser on the chat page does.

        Fails the test if the run raised (unless ``allow_exception``), since the app must show
        a message, never a traceback.
        """
        self._finished_page_script_hash = ""
        self._page_hash = ""
        self.run()
        if not allow_exception:
            assert not self.exception, [e.value for e in self.exception]
        return self

    def send(self, text: str) -> ChatApp:
        """Type ``text`` into the chat input and press Enter."""
        self.chat_input[0].set_value(text)
        return self.rerun()

    def click(self, label: str, *, sidebar: bool = False) -> ChatApp:
        """Click the button labelled ``label`` (in the main area, or the sidebar)."""
        self.find("button", label, sidebar=sidebar).click()
        return self.rerun()

    def click_key(self, key: str) -> ChatApp:
        """Click the button whose key is ``key`` (icon buttons have no label)."""
        self.button(key=key).click()
        return self.rerun()

    def choose(self, label: str, value: Any) -> ChatApp:
        """Set the sidebar widget labelled ``label`` to ``value`` and rerun."""
        for kind in ("selectbox", "radio", "text_input", "text_area", "number_input", "slider"):
            if self.has(kind, label, sidebar=True):
                self.find(kind, label, sidebar=True).set_value(value)
                return self.rerun()
        raise AssertionError(f"no sidebar widget labelled {label!r}")

    def find(self, kind: str, label: str, *, sidebar: bool = False) -> Any:
        """The widget of ``kind`` (``button``, ``selectbox``...) labelled ``label`` (a saved
        conversation's button, "title · date", is found by its title)."""
        widgets = getattr(self.sidebar if sidebar else self.main, kind)
        matches = [w for w in widgets if w.label == label or w.label.startswith(label + " · ")]
        assert matches, f"no {kind} labelled {label!r}; have {[w.label for w in widgets]}"
        return matches[0]

    def has(self, kind: str, label: str, *, sidebar: bool = False) -> bool:
        """True when a widget of ``kind`` labelled ``label`` is on the page."""
        where = self.sidebar if sidebar else self.main
        return any(w.label == label for w in getattr(where, kind))

    def bubbles(self) -> list[tuple[str, str]]:
        """The chat bubbles, in order: (role, text) with the text of their markdown."""
        return [
            (message.name, "\n".join(m.value for m in message.markdown))
            for message in self.main.chat_message
        ]

    def replies(self) -> list[str]:
        """The text of every assistant bubble."""
        return [text for role, text in self.bubbles() if role == "assistant"]

    def captions(self, *, sidebar: bool = False) -> list[str]:
        where = self.sidebar if sidebar else self.main
        return [c.value for c in where.caption]

    def alerts(self) -> list[str]:
        """Every error, warning, info and success message on the page."""
        found = []
        for kind in ("error", "warning", "info", "success"):
            found += [e.value for e in getattr(self, kind)]
        return found

    def all_text(self) -> Iterator[str]:
        """Every string the page renders: element protos (labels, values, bodies, help)."""
        stack = [self._tree]
        while stack:
            node = stack.pop()
            proto = getattr(node, "proto", None)
            if proto is not None:
                yield str(proto)
            for attr in ("value", "label", "help", "placeholder"):
                value = getattr(node, attr, None)
                if isinstance(value, str):
                    yield value
            children = getattr(node, "children", None)
            if isinstance(children, dict):
                stack.extend(children.values())

    def open_conversation(self) -> Any:
        """The session's open conversation (the branch on screen)."""
        return self.session_state["session"].queue.conversation


def new_app(query: dict[str, str] | None = None) -> ChatApp:
    """The app (not yet run); ``query`` sets the URL's query parameters."""
    at = ChatApp(APP, default_timeout=30)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at


def start(query: dict[str, str] | None = None) -> ChatApp:
    """A fresh app, run once."""
    return new_app(query).rerun()


def chat_requests(server: ProtocolServer) -> list[dict[str, Any]]:
    """Bodies of every generation request the server received, in order."""
    paths = ("/chat/completions", "/responses", "/messages")
    return [r.body or {} for r in server.requests if r.path.endswith(paths)]


def data_dir_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` (the database and its WAL/SHM companions)."""
    return [Path(root) / name for root, _, names in os.walk(folder) for name in names]


class Downloads:
    """The data behind the page's download buttons, as a click would produce it.

    The app passes a callable to ``st.download_button`` (so a rerun never serializes a long
    conversation); Streamlit runs it only when the button is clicked. This keeps each callable
    Streamlit registers, by the file id the button carries, so a test can call it.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from streamlit.runtime.media_file_manager import MediaFileManager

        self._callables: dict[str, Any] = {}
        original = MediaFileManager.add_deferred

        def add_deferred(manager: MediaFileManager, data_callable: Any, *args, **kwargs) -> str:
            file_id = original(manager, data_callable, *args, **kwargs)
            self._callables[file_id] = data_callable
            return file_id

        monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)

    def data(self, at: ChatApp, label: str) -> str:
        """The text the download button labelled ``label`` would save."""
        button = at.find("download_button", label, sidebar=True)
        file_id = button.proto.deferred_file_id
        assert file_id, f"{label!r} has no deferred data"
        data = self._callables[file_id]()
        return data.decode() if isinstance(data, bytes) else str(data)
