"""The summary the context window page previews: written by the model when the page already
has one for exactly those messages, else the messages as lines (never a model call)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chatkit.messages import Message, as_message
from chatkit.summary import message_lines

SummarySource = str  # "model" or "lines"
SUMMARY_SOURCE_LABELS: dict[str, str] = {
    "model": "written by the model",
    "lines": "the dropped turns as lines (no model call)",
}


class PreviewSummarizer:
    """The summarizer the page previews with: never calls a model.

    It returns a model-written summary when the page already has one for exactly these
    messages (``model_summaries``), else the messages as "User: …" lines. It remembers what it
    was last asked to summarize and which kind of summary it gave.
    """

    def __init__(self, model_summaries: Mapping[tuple[Message, ...], str] | None = None) -> None:
        self.model_summaries = dict(model_summaries or {})
        self.last_messages: tuple[Message, ...] = ()
        self.last_source: SummarySource = "lines"

    def __call__(self, messages: Sequence[Message]) -> str:
        key = tuple(as_message(m) for m in messages)
        self.last_messages = key
        if key in self.model_summaries:
            self.last_source = "model"
            return self.model_summaries[key]
        self.last_source = "lines"
        return message_lines(key)


@dataclass(frozen=True)
class SummaryPreview:
    """The summary message that would replace the dropped turns."""

    text: str
    source: SummarySource
    replaces: tuple[Message, ...]
    tokens: int
    shortened: bool = False  # only its newest part fitted the budget
    covered_turns: tuple[int, ...] = ()  # the turns its text really covers
    dropped_turns: tuple[int, ...] = ()  # every turn it stands in for

    @property
    def source_label(self) -> str:
        return SUMMARY_SOURCE_LABELS[self.source]

    @property
    def claim(self) -> str:
        """What the summary covers, in words that never claim more than its text holds."""
        covered = _span(self.covered_turns)
        if not self.shortened:
            return f"replaces {covered}"
        if self.covered_turns and self.covered_turns != self.dropped_turns:
            return (
                f"covers {covered} (shortened to fit the budget); "
                f"{_span(tuple(t for t in self.dropped_turns if t not in self.covered_turns))} "
                f"left out without a summary"
            )
        return f"stands in for {_span(self.dropped_turns)}, shortened to its newest part to fit"


def _span(turns: tuple[int, ...]) -> str:
    if not turns:
        return "no turn"
    if len(turns) == 1:
        return f"turn {turns[0]}"
    if list(turns) == list(range(turns[0], turns[-1] + 1)):
        return f"turns {turns[0]}–{turns[-1]}"
    return "turns " + ", ".join(map(str, turns))
