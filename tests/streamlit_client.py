"""A client that speaks Streamlit's own WebSocket protocol, for load benches and proxy tests.

It connects to ``/_stcore/stream``, sends ``BackMsg`` ``rerun_script`` messages (the chat
input's value as a widget state) and reads the ``ForwardMsg`` deltas the page is drawn from,
without a browser: one asyncio task per visitor, so a bench can open dozens at once.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

# The caption drawn under a reply once it is finished and saved ("… 1.1 KB sent · OpenAI …").
FINISHED = re.compile(r"tokens in .*(bytes|KB|MB) sent")


@dataclass
class Turn:
    """One message sent, and when its reply was first seen and finished."""

    text: str
    sent: float
    first_words: float | None = None
    finished: float | None = None
    runs: int = 0  # script runs the app made for this turn
    refusal: str = ""  # the page's sentence when it did not send the message


@dataclass
class Session:
    """One visitor: the page as the server last drew it, and what was measured."""

    number: int
    turns: list[Turn] = field(default_factory=list)
    chat_input_id: str = ""
    query_string: str = ""
    page_hash: str = ""
    run_texts: list[str] = field(default_factory=list)  # this run's markdown and alerts
    last_run: list[str] = field(default_factory=list)  # the last finished run's texts
    runs_finished: int = 0

    @property
    def sent_texts(self) -> list[str]:
        return [turn.text for turn in self.turns]

    def kept_in_order(self, prefix: str) -> bool:
        """Every message sent is on the final page, in the order sent (``prefix`` marks them)."""
        return [text for text in self.last_run if text.startswith(prefix)] == self.sent_texts


def _rerun(session: Session, text: str | None) -> bytes:
    back = BackMsg()
    state = back.rerun_script
    state.query_string = session.query_string
    state.page_script_hash = session.page_hash
    if text is not None:
        widget = state.widget_states.widgets.add()
        widget.id = session.chat_input_id
        widget.chat_input_value.data = text
    return back.SerializeToString()


def _read(session: Session, raw: bytes) -> str:
    """Update the session from one ForwardMsg; returns its kind."""
    msg = ForwardMsg()
    msg.ParseFromString(raw)
    kind = msg.WhichOneof("type")
    if kind == "new_session":
        session.page_hash = msg.new_session.page_script_hash or session.page_hash
    elif kind == "page_info_changed":
        session.query_string = msg.page_info_changed.query_string
    elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
        element = msg.delta.new_element
        which = element.WhichOneof("type")
        if which == "chat_input":
            session.chat_input_id = element.chat_input.id
        elif which == "markdown":
            session.run_texts.append(element.markdown.body)
        elif which == "alert":
            session.run_texts.append(element.alert.body)
    elif kind == "script_finished":
        session.last_run, session.run_texts = session.run_texts, []
        session.runs_finished += 1
    return kind or ""


def stream_address(url: str) -> str:
    """The WebSocket address of the Streamlit app at ``url``."""
    parsed = urlparse(url)
    scheme = "wss" if parsed.scheme == "https" else "ws"
    return f"{scheme}://{parsed.netloc}{parsed.path.rstrip('/')}/_stcore/stream"


async def _read_for(ws: Any, session: Session, seconds: float) -> None:
    """Keep reading what the app sends for ``seconds`` (a rerun it pushes meanwhile)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            _read(session, await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            return


async def drive(
    url: str,
    session: Session,
    messages: list[str],
    timeout: float,
    *,
    reply_to: str = "You said: {}",
    refused: str | None = None,
    local_address: str | None = None,
    headers: dict[str, str] | None = None,
    pauses: Sequence[float] = (),
) -> None:
    """Open the app as ``session``, send each message when the last reply is finished (after
    ``pauses[i]`` seconds before message i, when given: a person reading, then typing).

    A turn is finished when the run's page has one more finished-reply caption and shows
    ``reply_to`` filled with the message. With ``refused``, a run showing a text that contains
    it ends the turn too, unfinished, with that text as its ``refusal``. ``local_address``
    is the address to connect from (any 127.x.y.z stands for another visitor).
    """
    extra = {"local_addr": (local_address, 0)} if local_address else {}
    async with websockets.connect(
        stream_address(url),
        subprotocols=["streamlit"],
        max_size=None,
        open_timeout=timeout,
        close_timeout=1,
        additional_headers=headers,
        **extra,
    ) as ws:
        await ws.send(_rerun(session, None))
        deadline = time.monotonic() + timeout
        while not session.chat_input_id or not session.runs_finished:
            _read(session, await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        for number, text in enumerate(messages):
            if number < len(pauses):
                await _read_for(ws, session, pauses[number])
            turn = Turn(text, sent=time.monotonic())
            session.turns.append(turn)
            await ws.send(_rerun(session, text))
            expected = reply_to.format(text)
            deadline = time.monotonic() + timeout
            while turn.finished is None:
                kind = _read(
                    session, await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
                )
                now = time.monotonic()
                if turn.first_words is None and session.run_texts:
                    body = session.run_texts[-1]
                    if len(body) > len("You") and expected.startswith(body.removesuffix("…")):
                        turn.first_words = now
                if kind == "new_session":
                    turn.runs += 1
                if kind == "script_finished" and refused:
                    turn.refusal = next((t for t in session.last_run if refused in t), "")
                    if turn.refusal:
                        break
                if kind == "script_finished":
                    finished = sum(bool(FINISHED.search(body)) for body in session.last_run)
                    if finished >= number + 1 and expected in " ".join(session.last_run):
                        turn.finished = now
                        turn.first_words = turn.first_words or now
