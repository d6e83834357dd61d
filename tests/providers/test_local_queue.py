"""The local model's fair queue: one reply at a time, in order of arrival, with a place in line.

The queue is tested on its own (no model), with threads standing in for browser sessions;
then through ``LocalModel`` with the bundled model: a second session hears its place while the
first one streams; a time-limited reply stops at its limit, which waiting in line does not use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from chatkit.errors import ProviderUnavailable, StreamInterrupted
from chatkit.messages import Message
from chatkit.providers.base import GenerationOptions
from chatkit.providers.calls import Waiting
from chatkit.providers.local.queue import ModelQueue
from chatkit.providers.time_limit import TimeLimited

WAIT = 30  # seconds a test waits for another thread before failing (never reached when green)


def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the other threads"
        time.sleep(0.005)


def join_in_order(queue: ModelQueue, names: list[str], served: list[str], release: threading.Event):
    """Start one waiting thread per name, each after the previous one is in line."""
    threads = []
    for name in names:

        def session(name: str = name) -> None:
            with queue.hold():
                served.append(name)
                release.wait(WAIT)

        thread = threading.Thread(target=session, daemon=True)
        before = queue.waiting
        thread.start()
        until(lambda before=before: queue.waiting == before + 1)
        threads.append(thread)
    return threads


def test_sessions_are_served_in_the_order_they_arrived():
    queue = ModelQueue("test.gguf")
    served: list[str] = []
    release = threading.Event()
    with queue.hold():
        threads = join_in_order(queue, ["b", "c", "d", "e"], served, release)
        assert queue.waiting == 4 and served == []
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert served == ["b", "c", "d", "e"]
    assert queue.waiting == 0 and not queue.busy


def waiting_session(queue: ModelQueue, heard: list[Waiting]) -> threading.Thread:
    """A thread that joins the line and notes every ``Waiting`` it hears until its go."""

    def session() -> None:
        with queue.join() as place:
            for status in queue.wait(place):
                heard.append(status)

    thread = threading.Thread(target=session, daemon=True)
    thread.start()
    return thread


def test_a_waiting_session_hears_its_place_then_its_go():
    queue = ModelQueue("test.gguf")
    heard: list[Waiting] = []
    release, served = threading.Event(), []
    with queue.hold():
        ahead = join_in_order(queue, ["first"], served, release)
        thread = waiting_session(queue, heard)
        until(lambda: any(s.place == 2 for s in heard))
    until(lambda: any(s.place == 1 for s in heard))  # "first" holds the model now
    release.set()
    thread.join(WAIT)
    ahead[0].join(WAIT)
    places = [status.place for status in heard]
    assert places[0] == 2 and places[-1] == 0 and 1 in places
    assert places == sorted(places, reverse=True)  # never moves back
    assert heard[0].waiting == 2
    assert heard[0].estimate_seconds is None  # nothing measured yet: no made-up figure
    assert heard[-1].served


def test_the_estimate_comes_from_the_replies_measured():
    queue = ModelQueue("test.gguf")
    held = []
    for _ in range(3):
        started = time.monotonic()
        with queue.hold():
            time.sleep(0.05)
        held.append(time.monotonic() - started)
    typical = sorted(held)[1]
    heard: list[Waiting] = []
    release, served = threading.Event(), []
    with queue.hold():
        join_in_order(queue, ["first"], served, release)
        thread = waiting_session(queue, heard)
        until(lambda: bool(heard))
        release.set()
    thread.join(WAIT)
    estimate = heard[0].estimate_seconds
    assert estimate is not None and 0.05 <= estimate <= 2 * typical  # one whole reply ahead


def test_a_session_that_waits_too_long_gets_a_sentence_and_leaves_the_line():
    queue = ModelQueue("test.gguf")
    with queue.hold():
        with (
            pytest.raises(ProviderUnavailable, match="busy with other conversations"),
            queue.hold(max_wait_seconds=0.2),
        ):
            pass
        assert queue.waiting == 0
    with queue.hold(max_wait_seconds=1):  # the line is not blocked by the one who left
        pass


def test_a_session_that_leaves_while_waiting_frees_its_place():
    """A click in the page (Streamlit stops the run) while waiting: the place is given up."""
    queue = ModelQueue("test.gguf")

    class Rerun(Exception):
        pass

    with queue.hold():
        with pytest.raises(Rerun), queue.join() as place:
            for _status in queue.wait(place):
                raise Rerun
        assert queue.waiting == 0
    with queue.hold(max_wait_seconds=1):
        pass


def test_the_status_in_words():
    assert "next in line" in Waiting(1, 1, None).sentence()
    assert "being measured" in Waiting(1, 1, None).sentence()
    words = Waiting(3, 4, 42.0).sentence()
    assert "number 3 in line (2 other conversations before you)" in words and "42 s" in words
    assert "2 min" in Waiting(2, 2, 130.0).sentence()
    assert Waiting(0, 0).served and "writing your reply" in Waiting(0, 0).sentence()


# -- through LocalModel, with the bundled model ---------------------------------------------


@pytest.mark.local_model
def test_a_second_session_sees_its_place_while_the_first_streams():
    from chatkit.providers.local import LocalModel

    first, second = LocalModel(), LocalModel()  # two sessions, one shared model
    messages = [Message("user", "Tell me a story about a cat.")]
    options = GenerationOptions(max_output_tokens=24, seed=1)
    reply = first.stream(messages, options)
    chunks = iter(reply)
    next(chunks)  # the first session holds the model
    heard: list[Waiting] = []
    results = []

    def other_session() -> None:
        reply = second.stream([Message("user", "Hi")], options)
        for event in reply.events():
            if isinstance(event, Waiting):
                heard.append(event)
        results.append(reply.result)

    thread = threading.Thread(target=other_session, daemon=True)
    thread.start()
    until(lambda: bool(heard))
    assert heard[0].place == 1 and not results
    for _ in chunks:
        pass
    thread.join(WAIT)
    assert results and results[0].text and heard[-1].served


@pytest.mark.local_model
def test_a_reply_that_reaches_its_time_limit_stops_and_keeps_what_arrived():
    from chatkit.providers.local import LocalModel

    limited = TimeLimited(inner=LocalModel(logit_bias={0: -1e9, 2: -1e9}), seconds=0.001)
    reply = limited.stream(
        [Message("user", "Count to one hundred.")], GenerationOptions(max_output_tokens=64, seed=1)
    )
    with pytest.raises(StreamInterrupted, match=r"stopped after 0\.001 seconds") as stopped:
        reply.finish()
    assert stopped.value.partial_text and stopped.value.partial_text == reply.partial_text
    assert not LocalModel().load().queue.busy  # the model is free for the next conversation


@pytest.mark.local_model
def test_time_waiting_in_line_does_not_count_against_the_limit():
    """A reply that waited for others longer than its limit still gets its whole time."""
    from chatkit.providers.local import LocalModel

    now = [0.0]
    first = LocalModel().stream([Message("user", "Tell me a story.")], GenerationOptions(seed=1))
    chunks = iter(first)
    next(chunks)  # the first session holds the model
    second = TimeLimited(inner=LocalModel(), seconds=10, clock=lambda: now[0])
    heard: list[Waiting] = []
    results = []

    def other_session() -> None:
        options = GenerationOptions(max_output_tokens=16, seed=1)
        reply = second.stream([Message("user", "Hi")], options)
        for event in reply.events():
            if isinstance(event, Waiting):
                heard.append(event)
        results.append(reply.result)

    thread = threading.Thread(target=other_session, daemon=True)
    thread.start()
    until(lambda: bool(heard))
    now[0] = 100.0  # the wait outlasts the limit ten times over
    first.stop()
    thread.join(WAIT)
    assert results and results[0].text  # whole: no StreamInterrupted


@pytest.mark.local_model
def test_a_turn_waiting_for_the_local_model_shows_its_place_on_the_page():
    """The chat page's turn queue takes turns in a worker thread: its live turn carries the
    place in line while another conversation holds the model, and drops it when served."""
    from chatkit.conversation import Conversation
    from chatkit.providers.local import LocalModel
    from chatkit.turn_queue import TurnJob, TurnQueue, TurnRequest

    first = LocalModel().stream([Message("user", "Tell me a story.")], GenerationOptions(seed=1))
    chunks = iter(first)
    next(chunks)  # another conversation holds the model
    turns = TurnQueue(Conversation(), save=lambda conversation: (conversation, None))
    options = GenerationOptions(max_output_tokens=8, seed=1)
    turns.submit(TurnJob(TurnRequest("Hi"), LocalModel(), options=options))
    until(lambda: turns.live is not None and turns.live.waiting is not None)
    live = turns.live
    assert live is not None and live.waiting is not None
    assert live.waiting.place == 1 and "next in line" in live.waiting.sentence()
    first.stop()
    until(lambda: not turns.busy)
    assert live.waiting is None and turns.failure is None
    assert turns.conversation.messages[-1].role == "assistant"
