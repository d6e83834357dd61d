"""The next send, measured before sending: the same trimming and counter as the turn."""

from __future__ import annotations

from chatkit.conversation import Conversation
from chatkit.next_send import plan_next_send
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.turn import TrimmingSettings, make_strategy, prepare_turn


def _conversation(turns: int) -> Conversation:
    conversation = Conversation(system_prompt="Be brief.")
    for number in range(turns):
        conversation.add_user(f"question {number} about tokens")
        conversation.add_assistant(f"answer {number} because of budgets")
    return conversation


def test_the_plan_counts_what_the_turn_will_send(openai_client) -> None:
    provider = OpenAIChat(model="gpt-4o", client=openai_client)
    conversation = _conversation(6).with_in_context(0, "pinned").with_in_context(9, "left_out")
    trimming = TrimmingSettings("last_n", last_n=2)
    plan = plan_next_send(conversation, "What now?", provider, trimming)
    prepared = prepare_turn(conversation, "What now?", provider, make_strategy(trimming, provider))
    assert plan.tokens == prepared.prompt_tokens
    assert plan.left_out == 1 and plan.trimmed == 7  # turns 1-4 but the pinned question
    assert plan.divider is not None and plan.divider.before == 8
    line = plan.line()
    assert line.startswith(f"Next request: about {plan.tokens:,} tokens (estimate, counted by")
    assert "7 older messages will be trimmed" in line and "1 left out by you" in line


def test_nothing_typed_yet_says_so(openai_client) -> None:
    provider = OpenAIChat(model="gpt-4o", client=openai_client)
    plan = plan_next_send(_conversation(1), "  ", provider, TrimmingSettings())
    assert plan.line().startswith("Next request (with a one-word message)")
    assert plan.divider is None and plan.trimmed == 0
