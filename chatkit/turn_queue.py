"""Turns taken one after another, in the order they were asked for, whatever the page does.

A person can send a message while the model loads, while a reply streams, or three in a
second: each is queued and taken in order by one worker thread per conversation session, so
none is lost or reordered, and a page rerun (a click, a reload of the widgets) never cuts a
reply. The page only draws: the conversation, the reply arriving (``live``), the messages
waiting (``queued``), and a failure with what to do. A failure pauses the queue: the messages
after it wait until it is retried or dropped, so they are never sent out of order.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from chatkit.conversation import Conversation
from chatkit.errors import (
    ChatkitError,
    ContextOverflow,
    ContextTooLong,
    QuotaExceeded,
    StreamInterrupted,
)
from chatkit.messages import Message
from chatkit.providers.base import GenerationOptions, Provider
from chatkit.providers.calls import CallResult, Finished, ReplyStream, TextDelta, Waiting
from chatkit.replies import ReplyInfo
from chatkit.tokens import count_message_tokens
from chatkit.turn import (
    PreparedTurn,
    TrimmingSettings,
    finish_stopped,
    finish_turn,
    make_strategy,
    prepare_turn,
)

STOPPED_EMPTY = "The reply was stopped before any text arrived: nothing was added."


@dataclass(frozen=True)
class TurnRequest:
    """A turn asked for: a new message, or a new version of an earlier one.

    ``user_text`` is the message (``None`` asks again for the reply to the last message:
    Regenerate). ``edit_at`` is the position of an earlier user message being edited: the
    conversation from there on is kept as a version, and the edited text starts a new one.
    Regenerate keeps the old reply as a version too. ``fresh`` starts the turn in a new
    conversation with the same system prompt (which then becomes the open one).
    """

    user_text: str | None
    edit_at: int | None = None
    fresh: bool = False

    def base(self, conversation: Conversation) -> Conversation:
        """The conversation the turn starts from (earlier versions kept as branches)."""
        if self.fresh:
            return Conversation(system_prompt=conversation.system_prompt)
        if self.edit_at is not None:
            return conversation.branched_at(self.edit_at)
        if self.user_text is None:
            return conversation.branched_at(conversation.trailing_replies_start())
        return conversation


@dataclass(frozen=True)
class Failure:
    """A turn that did not complete: what to show, and the request ``Retry`` sends again.

    ``trim_budget`` is set when the prompt did not fit the context window and trimming to a
    token budget of that size would let it through.
    """

    request: TurnRequest
    message: str
    severity: Literal["error", "warning"] = "error"
    trim_budget: int | None = None


@dataclass(frozen=True)
class TurnJob:
    """A turn and everything needed to take it, fixed when it was asked for.

    ``settings`` (plain JSON: provider, mode, model, trimming...) are saved with the
    conversation the turn makes, so opening it again restores them.
    """

    request: TurnRequest
    provider: Provider
    trimming: TrimmingSettings = field(default_factory=TrimmingSettings)
    options: GenerationOptions = field(default_factory=GenerationOptions)
    settings: Mapping[str, Any] = field(default_factory=dict)
    max_input_chars: int = 100_000
    # The budget "Trim and retry" offers when the server says the prompt is too long (None:
    # trimming is on already, so offering it would not help).
    offer_trim_budget: int | None = None


@dataclass
class LiveTurn:
    """The turn being taken: its message, the reply so far, and how far it has got."""

    job: TurnJob
    base: Conversation  # the conversation the turn starts from (drawn above it)
    phase: Literal["preparing", "streaming"] = "preparing"
    prepared: PreparedTurn | None = None
    reply: ReplyStream | None = None
    started: float = field(default_factory=time.monotonic)
    # Set while the turn waits for a local model busy with other conversations: its place.
    waiting: Waiting | None = None
    has_text: bool = False  # the reply's first words have arrived

    @property
    def text(self) -> str:
        return self.reply.partial_text if self.reply is not None else ""


# What the page supplies: save a conversation, and say what to tell the person (or None).
Saver = Callable[[Conversation], tuple[Conversation, str | None]]
# Told of every reply kept: the conversation as saved, and the job that made the reply.
ReplyListener = Callable[[Conversation, "TurnJob"], None]


class TurnQueue:
    """One conversation's turns, taken in order by a worker thread."""

    def __init__(
        self, conversation: Conversation, save: Saver, on_reply: ReplyListener | None = None
    ) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._conversation = conversation
        self._save = save
        self._on_reply = on_reply
        self._jobs: deque[TurnJob] = deque()
        self._worker: threading.Thread | None = None
        self._stop_requested = False
        self.live: LiveTurn | None = None
        self.failure: Failure | None = None
        self.notice: str | None = None
        # Raised on every change, so a page knows when to draw again: a turn starting, its first
        # words, its end, a failure. The words after the first do not wake anyone (a page
        # following a reply reads its text a few times a second).
        self.version = 0
        # Summaries the model wrote for "summarize older turns", by the messages summarized.
        self._summaries: dict[tuple[Message, ...], str] = {}
        # Calls made beside the turns while one was being taken: (conversation id, record).
        self._extra_calls: list[tuple[str, ReplyInfo]] = []

    # -- what the page reads ---------------------------------------------------------------------
    @property
    def conversation(self) -> Conversation:
        with self._lock:
            return self._conversation

    @property
    def queued(self) -> list[TurnJob]:
        """Turns asked for and not yet started, oldest first."""
        with self._lock:
            return list(self._jobs)

    @property
    def busy(self) -> bool:
        """True while a turn is being taken or waits to be."""
        with self._lock:
            return self.live is not None or (bool(self._jobs) and self.failure is None)

    def wait(self, timeout: float | None = None, *, since: int | None = None) -> bool:
        """Wait until something changes after ``since`` (or until idle); True if it did."""
        with self._changed:
            if since is None:
                return self._changed.wait_for(lambda: not self.busy, timeout)
            return self._changed.wait_for(lambda: self.version != since, timeout)

    # -- what the page asks ----------------------------------------------------------------------
    def submit(self, job: TurnJob) -> None:
        """Queue a turn; it is taken after every turn asked for before it."""
        self._enqueue(job, first=False)

    def retry(self, job: TurnJob) -> None:
        """Take the failed turn again (first), then the ones that waited behind it."""
        self._enqueue(job, first=True)

    def report(self, failure: Failure) -> None:
        """A turn that could not even be queued (no key, say): shown like any failure."""
        with self._lock:
            self.failure = failure
            self._touch()

    def dismiss_failure(self) -> None:
        """Forget the failed turn and go on with the ones that waited behind it."""
        with self._lock:
            self.failure = None
            self._touch()
            self._start()

    def stop(self) -> None:
        """Stop the reply streaming now; what arrived is kept, marked as stopped."""
        with self._lock:
            self._stop_requested = self.live is not None

    def replace(self, conversation: Conversation, *, keep_queue: bool = False) -> None:
        """Show another conversation (or a changed one, e.g. after Clear or a branch switch).

        A turn being taken finishes on the conversation it started from and is saved there;
        queued turns are dropped unless ``keep_queue``.
        """
        with self._lock:
            self._conversation = conversation
            if not keep_queue:
                self._jobs.clear()
                self.failure = None
            self._touch()

    def update(self, change: Callable[[Conversation], Conversation]) -> Conversation:
        """Apply ``change`` to the conversation (when no turn is being taken) and save it."""
        with self._lock:
            if self.live is not None:
                raise ChatkitError("Wait for the reply to finish, or stop it, then try again.")
            changed = change(self._conversation.copy())
            self._conversation, self.notice = self._save(changed)
            self._touch()
            return self._conversation

    def record_call(self, conversation_id: str, call: ReplyInfo) -> None:
        """Keep a call made for the conversation beside its turns (a summary the Summary page
        asked for) with it, and save it; while a turn is being taken, it joins the turn's end."""
        with self._lock:
            self._extra_calls.append((conversation_id, call))
            if self.live is None:
                self._keep_extra_calls()

    def _take_extra_calls(self, conversation: Conversation) -> bool:
        """Move the calls recorded for ``conversation`` onto it; True if there were any."""
        calls = [call for made_for, call in self._extra_calls if made_for == conversation.id]
        self._extra_calls = [item for item in self._extra_calls if item[0] != conversation.id]
        conversation.extra_calls.extend(calls)
        return bool(calls)

    def _keep_extra_calls(self) -> None:
        changed = self._conversation.copy()
        if self._take_extra_calls(changed):
            self._conversation, notice = self._save(changed)
            self.notice = notice or self.notice
            self._touch()

    # -- the worker ------------------------------------------------------------------------------
    def _enqueue(self, job: TurnJob, *, first: bool) -> None:
        with self._lock:
            if first:
                self.failure = None
                self._jobs.appendleft(job)
            else:
                self._jobs.append(job)
            self._touch()
            self._start()

    def _touch(self) -> None:
        self.version += 1
        self._changed.notify_all()

    def _start(self) -> None:
        if self._worker is None and self._jobs and self.failure is None:
            self._worker = threading.Thread(target=self._run, name="chatkit-turns", daemon=True)
            self._worker.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._jobs or self.failure is not None:
                    self._worker = None
                    self._touch()
                    return
                job = self._jobs.popleft()
                base = job.request.base(self._conversation)
                self.live = LiveTurn(job, base)
                self._stop_requested = False
                self._touch()
            try:
                self._take(job, base)
            except Exception as error:  # a bug must not kill the queue silently
                with self._lock:
                    self.failure = Failure(job.request, f"The turn failed unexpectedly: {error}")
            finally:
                with self._lock:
                    self.live = None
                    self._keep_extra_calls()  # those recorded after the turn was kept
                    self._touch()

    def _take(self, job: TurnJob, base: Conversation) -> None:
        live = self.live
        assert live is not None
        calls: list[CallResult] = []
        try:
            strategy = make_strategy(
                job.trimming, job.provider, cache=self._summaries, on_call=calls.append
            )
            prepared = prepare_turn(
                base,
                job.request.user_text,
                job.provider,
                strategy,
                job.options,
                max_input_chars=job.max_input_chars,
            )
            prepared = replace(prepared, summary_calls=tuple(calls))
        except ContextOverflow as error:
            budget = trim_budget(base, job.request.user_text, job.provider, job.options)
            self._fail(Failure(job.request, error.message, "warning", budget))
            return
        except ChatkitError as error:
            severity = "warning" if isinstance(error, QuotaExceeded) else "error"
            self._fail(Failure(job.request, error.message, severity))
            return
        reply = job.provider.stream(prepared.messages, job.options, prepared.previous_response_id)
        with self._lock:
            live.prepared, live.reply, live.phase = prepared, reply, "streaming"
            self._touch()
        finished = False  # the model said it stopped: a Stop now would cut a whole reply
        try:
            for event in reply.events():
                with self._lock:
                    if isinstance(event, Waiting):  # its place in a local model's line
                        live.waiting = None if event.served else event
                        self._touch()
                    elif isinstance(event, TextDelta) and not live.has_text:
                        live.has_text = True
                        self._touch()  # the first words wake the page; later ones it polls
                    finished = finished or isinstance(event, Finished)
                    if self._stop_requested and not finished:
                        reply.stop()
                        break
        except ChatkitError as error:
            self._failed_stream(job, prepared, error)
            return
        if reply.result is not None:
            self._keep(finish_turn(prepared, reply.result), job)
        elif reply.partial_text:
            stopped = finish_stopped(prepared, job.provider, reply.partial_text, job.options)
            self._keep(stopped, job)
        else:
            self._fail(Failure(job.request, STOPPED_EMPTY, "warning"))

    def _failed_stream(self, job: TurnJob, prepared: PreparedTurn, error: ChatkitError) -> None:
        if isinstance(error, StreamInterrupted) and error.partial_text:
            updated = finish_stopped(prepared, job.provider, error.partial_text, job.options)
            position = len(updated.messages) - 1
            updated.replies[position] = replace(updated.replies[position], note=error.message)
            self._keep(updated, job)
            # Retry asks for the reply again; the cut one is kept as a version.
            self._fail(Failure(TurnRequest(None), error.message))
        elif isinstance(error, ContextTooLong):
            self._fail(Failure(job.request, error.message, "warning", job.offer_trim_budget))
        else:
            severity = "warning" if isinstance(error, QuotaExceeded) else "error"
            self._fail(Failure(job.request, error.message, severity))

    def _keep(self, conversation: Conversation, job: TurnJob) -> None:
        if job.settings:
            conversation.settings = dict(job.settings)
        with self._lock:
            self._take_extra_calls(conversation)
        saved, notice = self._save(conversation)
        if self._on_reply is not None:
            self._on_reply(saved, job)
        with self._lock:
            self._conversation = saved
            if notice:
                self.notice = notice
            self._touch()

    def _fail(self, failure: Failure) -> None:
        with self._lock:
            self.failure = failure
            self._touch()


def trim_budget(
    base: Conversation, user_text: str | None, provider: Provider, options: GenerationOptions
) -> int | None:
    """A token budget that would make the turn fit, or None when trimming cannot help.

    Trimming drops older turns; it cannot help when the newest message alone (with the system
    prompt and the room kept for the reply) is already too large.
    """
    window = provider.context_window()
    if window is None or not base.messages:
        return None
    reserve = options.max_output_tokens or 0
    budget = window - reserve - window // 50  # a little room for counting differences
    newest = [Message("user", user_text or base.last_user_text or "")]
    if base.system_prompt:
        newest.insert(0, Message("system", base.system_prompt))
    needed = count_message_tokens(newest, provider.model, tokenizer=provider.tokenizer()).total
    return budget if needed < budget else None
