"""One check per lesson, on the request the student's chat really sent.

Each check reads the captured calls (newest last) and says, in one sentence, that the lesson
passed or what is wrong and what to do. Only the request and response records are read,
never whether the model's answer was right.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from chatkit.lessons.calls import (
    CapturedCall,
    WireMessage,
    request_messages,
    same_conversation,
    sent_request,
    turns_of,
    user_texts,
)
from chatkit.messages import as_message
from chatkit.tokens import count_prompt

MIN_WINDOW_TOKENS = 100  # lesson 5: a request big enough to see on the window


@dataclass(frozen=True)
class CheckResult:
    """Whether a lesson's check passed, and why, in one sentence."""

    passed: bool
    sentence: str


PASSED = "Passed: "  # how a passing check's sentence starts


def _passed(sentence: str) -> CheckResult:
    return CheckResult(True, f"{PASSED}{sentence}")


def passed_earlier(sentence: str) -> str:
    """What a lesson passed before this visit says, from the latest sentence its check kept:
    the pass's reason once ("Passed earlier: the last request..."), or no reason when the
    latest run failed (a lesson once passed stays passed, its old reason is not kept)."""
    reason = sentence.removeprefix(PASSED) if sentence.startswith(PASSED) else ""
    return f"Passed earlier: {reason}" if reason else "Passed earlier."


def _failed(sentence: str) -> CheckResult:
    return CheckResult(False, sentence)


NOTHING_SENT = _failed("Nothing was sent yet: do the task in the chat, then check again.")


def _last(calls: Sequence[CapturedCall], mode: str | None = None) -> CapturedCall | CheckResult:
    """The newest call, or the failure to report when there is none or it went in another
    API mode than ``mode``."""
    if not calls:
        return NOTHING_SENT
    wrong_mode = _in_mode(calls[-1], mode) if mode else None
    return wrong_mode or calls[-1]


def _in_mode(call: CapturedCall, mode: str) -> CheckResult | None:
    if call.reply.mode == mode:
        return None
    words = {"chat": "Chat Completions", "responses": "Responses", "messages": "Messages"}
    return _failed(
        f"The last call went in {words.get(call.reply.mode, call.reply.mode or 'an unknown')} "
        f"mode: switch the API mode to {words[mode]} and send your messages again."
    )


def _earlier(calls: Sequence[CapturedCall], call: CapturedCall) -> CapturedCall | None:
    """The call before ``call`` in its own conversation."""
    before = same_conversation(calls, call)
    return before[-1] if before else None


# -- 1. a stateless call forgets ----------------------------------------------------------------


def check_stateless(calls: Sequence[CapturedCall]) -> CheckResult:
    """The last request went in a new conversation and carried none of the earlier one."""
    if len(calls) < 2:
        return _failed("Send the fact, start a new chat, then ask about it: two calls are needed.")
    first, last = calls[-2], calls[-1]
    if first.conversation_id == last.conversation_id:
        return _failed(
            "Both messages went to the same conversation: start a new chat before you ask."
        )
    body = sent_request(last)
    earlier = set(user_texts(sent_request(first)))
    if last.reply.previous_response_id or len(user_texts(body)) != 1:
        return _failed(
            "The last request carried more than your new message: start a new chat and ask "
            "only your question."
        )
    if earlier & set(user_texts(body)):
        return _failed("The last request repeated your earlier message: ask something new.")
    return _passed(
        "the last request carried only your new question, so the model could not know the fact."
    )


# -- 2. keeping history yourself ----------------------------------------------------------------


def _alternates(turns: Sequence[WireMessage]) -> bool:
    return all(m.role == ("user" if i % 2 == 0 else "assistant") for i, m in enumerate(turns))


def check_history(calls: Sequence[CapturedCall]) -> CheckResult:
    """A Chat Completions request that resends the previous turn, user then assistant."""
    last = _last(calls, "chat")
    if isinstance(last, CheckResult):
        return last
    turns = turns_of(sent_request(last))
    earlier = _earlier(calls, last)
    if earlier is None or len(turns) < 3:
        return _failed(
            "The request carried only the new message, so the model saw none of the earlier turn."
        )
    previous_user = user_texts(sent_request(earlier))[-1:]
    before = turns[:-1]
    if (
        not previous_user
        or len(before) < 2
        or before[-2] != WireMessage("user", previous_user[0])
        or before[-1].role != "assistant"
    ):
        return _failed(
            "The request left out your previous turn: turn trimming off and ask again in the "
            "same conversation."
        )
    if not _alternates(turns):
        return _failed("The request's roles do not alternate user, assistant after the system.")
    return _passed(
        f"the request resent {len(turns) - 1} earlier messages, user and assistant in turn, "
        f"before your new one."
    )


# -- 3. Responses chaining ----------------------------------------------------------------------


def check_chaining(calls: Sequence[CapturedCall]) -> CheckResult:
    """``previous_response_id`` names the previous response; only the new input goes."""
    last = _last(calls, "responses")
    if isinstance(last, CheckResult):
        return last
    earlier = _earlier(calls, last)
    if earlier is None:
        return _failed("Send a second message in the same conversation so it can chain.")
    reply = last.reply
    if not reply.previous_response_id or reply.previous_response_id != earlier.reply.response_id:
        return _failed(
            "The last call did not name the previous response in previous_response_id: "
            "keep chatting in the same conversation with trimming off."
        )
    body = sent_request(last)
    if body.get("store") is not True:
        return _failed("The request did not set store to true, so nothing could chain to it.")
    if len(turns_of(body)) != 1:
        return _failed(
            "The request resent the history as well as previous_response_id: send only the "
            "new message."
        )
    if last.system_prompt and not body.get("instructions"):
        return _failed(
            "The request left out instructions: they are not inherited, so send them every call."
        )
    resent = " and resent the instructions" if body.get("instructions") else ""
    return _passed(
        f"the request named {reply.previous_response_id} and sent only the new message{resent}."
    )


# -- 4. Anthropic Messages ----------------------------------------------------------------------

ALTERNATION_ERROR = (
    'messages: roles must alternate between "user" and "assistant", but found multiple '
    '"{role}" roles in a row'
)
FIRST_ROLE_ERROR = 'messages: first message must use the "user" role'


def strict_alternation_error(messages: Sequence[Mapping[str, Any] | Any]) -> str | None:
    """The error a strict Messages API returns for ``messages`` (Anthropic's historical 400
    wording), or None when it would accept them. System messages are left out, as a client
    sends them in the top-level ``system``. Pure: ``messages`` is only read."""
    converted = [m for m in (as_message(m) for m in messages) if not m.is_instruction]
    if converted and converted[0].role != "user":
        return FIRST_ROLE_ERROR
    for before, after in pairwise(converted):
        if before.role == after.role:
            return ALTERNATION_ERROR.format(role=after.role)
    return None


def check_messages(calls: Sequence[CapturedCall]) -> CheckResult:
    """A Messages body: ``system`` at the top, a user first, roles strictly alternating."""
    last = _last(calls, "messages")
    if isinstance(last, CheckResult):
        return last
    body = sent_request(last)
    raw = body.get("messages") if isinstance(body.get("messages"), list) else []
    if last.system_prompt and not body.get("system"):
        return _failed("The request has no top-level system: set a system prompt and send again.")
    if any(isinstance(m, Mapping) and m.get("role") == "system" for m in raw):
        return _failed("A system message sits inside messages: it belongs in the top-level system.")
    turns = [m for m in request_messages(body) if m.role != "system"]
    if len(turns) < 3:
        return _failed("Send a second message in the same conversation so turns must alternate.")
    if turns[0].role != "user":
        return _failed("The first message is not from the user: a Messages request must start so.")
    if not _alternates(turns):
        return _failed("Two messages in a row share a role: merge them so the roles alternate.")
    return _passed(
        f"system sat at the top level and {len(turns)} messages alternated, starting with the user."
    )


# -- 5. tokens and the context window -----------------------------------------------------------


def check_window(calls: Sequence[CapturedCall]) -> CheckResult:
    """The last request's input tokens are known, at least 100, and fit its window."""
    last = _last(calls)
    if isinstance(last, CheckResult):
        return last
    tokens, window = last.reply.input_tokens, last.context_window
    if tokens is None:
        return _failed("The provider reported no input tokens for the last call: send another.")
    if tokens < MIN_WINDOW_TOKENS:
        return _failed(
            f"The last request used only {tokens:,} input tokens: keep chatting (or send a longer "
            f"message) until it passes {MIN_WINDOW_TOKENS}."
        )
    if window is None:
        return _failed("This model's context window is unknown: choose a model with a known one.")
    if tokens > window:
        return _failed(
            f"The request's {tokens:,} tokens overflow the {window:,}-token window: turn on "
            f"trimming."
        )
    how = "an estimate" if last.reply.tokens_estimated else "the provider's exact count"
    return _passed(
        f"the request used {tokens:,} input tokens ({how}), {tokens / window:.1%} of its "
        f"{window:,}-token window."
    )


# -- 6. trimming --------------------------------------------------------------------------------


def _budget_count(call: CapturedCall) -> tuple[int, bool]:
    """The request's tokens as chatkit counts a budget for its model, and whether exactly."""
    messages = [as_message({"role": _role(m), "content": m.content}) for m in _sent(call)]
    return count_prompt(messages, call.reply.model)


def _sent(call: CapturedCall) -> list[WireMessage]:
    return request_messages(sent_request(call))


def _role(message: WireMessage) -> str:
    return message.role if message.role in ("system", "developer", "assistant") else "user"


def check_trimming(calls: Sequence[CapturedCall]) -> CheckResult:
    """The last call was trimmed and keeps to its setting (last N turns, or a token budget)."""
    last = _last(calls)
    if isinstance(last, CheckResult):
        return last
    settings = last.trimming
    if settings.strategy not in ("last_n", "token_budget"):
        return _failed("Trimming is off: choose Last N turns or Token budget in the sidebar.")
    if last.reply.kept_from is None:
        return _failed(
            "Nothing was trimmed yet: keep chatting (or lower the setting) until older turns "
            "are left out."
        )
    if settings.strategy == "last_n":
        earlier_turns = max(len(user_texts(sent_request(last))) - 1, 0)
        if earlier_turns > settings.last_n:
            return _failed(
                f"The request kept {earlier_turns} earlier turns, more than the last "
                f"{settings.last_n}: send again with Last N turns on."
            )
        return _passed(
            f"the request kept {earlier_turns} earlier turns (at most {settings.last_n}) and "
            f"left out the older ones."
        )
    counted, exact = _budget_count(last)
    own = last.reply.input_tokens if not last.reply.tokens_estimated else None
    # An estimate over the budget fails only if the model's own count agrees.
    over = counted > settings.max_tokens and (exact or own is None or own > settings.max_tokens)
    if over:
        return _failed(
            f"The request holds {counted:,} tokens, more than the budget of "
            f"{settings.max_tokens:,}: send again with Token budget on."
        )
    how = "counted exactly" if exact else "estimated"
    return _passed(
        f"the request holds {counted:,} tokens ({how}), within the budget of "
        f"{settings.max_tokens:,}, and left out the older turns."
    )


# -- 7. summaries -------------------------------------------------------------------------------


def _known_history(calls: Sequence[CapturedCall], last: CapturedCall) -> list[WireMessage]:
    """The longest stretch of the conversation an untrimmed earlier request shows."""
    whole = [turns_of(sent_request(c)) for c in same_conversation(calls, last)]
    untrimmed = [
        t
        for c, t in zip(same_conversation(calls, last), whole, strict=True)
        if c.reply.kept_from is None and not c.reply.previous_response_id
    ]
    return max(untrimmed, key=len, default=[])


def check_summary(calls: Sequence[CapturedCall]) -> CheckResult:
    """A summary stood in for the older turns: its text sent, the summarized messages not."""
    last = _last(calls)
    if isinstance(last, CheckResult):
        return last
    if last.trimming.strategy != "summarize":
        return _failed("Choose Summarize older turns in Trimming, then keep chatting.")
    summary = last.reply.summary
    if not summary or last.reply.kept_from is None:
        return _failed(
            "No summary was made yet: keep chatting (or lower the budget) until older turns "
            "are summarized."
        )
    sent = _sent(last)
    if not any(summary in m.content for m in sent):
        return _failed("The summary was not in the request: send again with Summarize on.")
    summarized = _known_history(calls, last)[: last.reply.kept_from]
    still_sent = [m for m in summarized if m in sent and summary not in m.content]
    if still_sent:
        return _failed("The request still carried messages the summary stands for: send again.")
    return _passed(
        f"a summary stood in for the first {last.reply.kept_from} messages, which were not sent."
    )


# -- 8. the tutorial's classes ------------------------------------------------------------------


def check_classes(calls: Sequence[CapturedCall]) -> CheckResult:
    """The snippet's last request kept context: it resent the first message, or chained."""
    if len(calls) < 2:
        return _failed("Run a snippet that sends two messages, then check again.")
    first, last = calls[0], calls[-1]
    chained = bool(last.reply.previous_response_id) and (
        last.reply.previous_response_id == calls[-2].reply.response_id
    )
    first_text = user_texts(sent_request(first))[-1:]
    resent = bool(first_text) and first_text[0] in user_texts(sent_request(last))
    if chained:
        return _passed("the second call named the first response in previous_response_id.")
    if resent and len(user_texts(sent_request(last))) > 1:
        return _passed("the second request resent the first turn along with the new message.")
    return _failed(
        "The second request carried only its new message and no previous_response_id: keep one "
        "conversation object for the whole chat."
    )


CHECKS: dict[int, Callable[[Sequence[CapturedCall]], CheckResult]] = {
    1: check_stateless,
    2: check_history,
    3: check_chaining,
    4: check_messages,
    5: check_window,
    6: check_trimming,
    7: check_summary,
    8: check_classes,
}


def check_lesson(number: int, calls: Sequence[CapturedCall]) -> CheckResult:
    """Lesson ``number``'s check on ``calls`` (newest last)."""
    check = CHECKS.get(number)
    if check is None:
        raise ValueError(f"There is no lesson {number}: choose 1 to {len(CHECKS)}.")
    return check(list(calls))
