"""The four teaching pages under AppTest, with a conversation really sent to the test server."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from chatkit.conversation import Conversation
from chatkit.providers.base import GenerationOptions
from chatkit.providers.local import LocalModel
from chatkit.providers.openai_chat import OpenAIChat
from chatkit.providers.openai_responses import OpenAIResponses
from chatkit.providers.server_tokens import forget_server_counts
from chatkit.summary import SEED_HEADING
from chatkit.teaching.context_view import struck_through
from chatkit.teaching.inspector import messages_for_turn
from chatkit.turn import send
from tests.apptest_helpers import APP, OPENAI_MODEL, configure_env, new_app

SCRIPT = ("My name is Alice.", "My favorite color is blue.", "What is my name?")


@pytest.fixture
def app_env(monkeypatch, server, tmp_path):
    """The app's environment with an OpenAI key only."""
    configure_env(monkeypatch, server, tmp_path, ANTHROPIC_API_KEY=None, ANTHROPIC_BASE_URL=None)
    return server


def alice(provider) -> Conversation:
    conversation = Conversation(system_prompt="You are a helpful assistant.")
    for text in SCRIPT:
        conversation, _ = send(conversation, text, provider)
    return conversation


@pytest.fixture
def conversation(app_env, openai_client) -> Conversation:
    return alice(OpenAIChat(model=OPENAI_MODEL, client=openai_client))


def open_page(conversation: Conversation | None, page: str) -> AppTest:
    at = new_app()
    if conversation is not None:
        at.session_state["conversation"] = conversation
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def charts(at: AppTest) -> list:
    return [e for e in at.main if getattr(e, "type", "") == "vega_lite_chart"]


def texts(at: AppTest) -> str:
    """Everything written on the page, as one string to search."""
    parts = [str(getattr(e, "value", "")) for e in at.main]
    parts += [e.label for e in at.metric] + [e.value for e in at.metric]
    return "\n".join(parts)


# -- Context window ---------------------------------------------------------------------------


def table(at: AppTest):
    return at.dataframe[0].value


def test_context_window_page_shows_the_parts_and_every_message(conversation) -> None:
    at = open_page(conversation, "app_pages/context_window.py")
    assert at.title[0].value == "Context window"
    assert len(charts(at)) == 1  # the whole window above, the zoomed bar below
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Window (tokens)"] == "1.05M"
    assert metrics["Reply reserve"] == "512"
    assert metrics["Left out"] == "≈0"  # the test server has no count endpoint
    rows = table(at)
    assert list(rows["Role"]) == ["system"] + ["user", "assistant"] * 3
    assert rows["Kept"].all()
    assert rows["Tokens"].min() > 0
    assert "Every message would be sent." in texts(at)


def test_counts_say_whether_they_are_exact(conversation, app_env) -> None:
    at = open_page(conversation, "app_pages/context_window.py")
    where = f"OpenAI at 127.0.0.1:{app_env.port}"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sent (tokens)"].startswith("≈") and metrics["Left out"] == "≈0"
    assert any(
        c.value.startswith(f"Estimate: {where} offers no token-counting endpoint")
        for c in at.caption
    )
    app_env.count_endpoint = "llama.cpp"  # a server that counts: its own numbers
    forget_server_counts()
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert not metrics["Sent (tokens)"].startswith("≈") and metrics["Left out"] == "0"
    assert f"Exact: counted by {where} (llama.cpp's" in texts(at)


def test_a_smaller_budget_shows_which_turns_would_be_dropped(conversation) -> None:
    at = open_page(conversation, "app_pages/context_window.py")
    at.selectbox(key="cw_strategy").set_value("Token budget").run()
    slider = at.slider(key="cw_budget")
    slider.set_value(slider.min + 25).run()
    rows = table(at)
    assert not rows["Kept"].all()
    dropped = rows[~rows["Kept"]]
    assert dropped["Message"].iloc[0] == "My name is Alice."
    assert all("budget" in why for why in dropped["Why"])
    assert "would be left out" in texts(at)
    assert {m.label: m.value for m in at.metric}["Left out"] != "≈0"


def test_summarize_older_previews_the_summary_and_asks_the_model_only_on_request(
    conversation, app_env
) -> None:
    at = open_page(conversation, "app_pages/context_window.py")
    at.selectbox(key="cw_strategy").set_value("Summarize older turns").run()
    slider = at.slider(key="cw_budget")
    slider.set_value(slider.max - 20).run()
    before = len(app_env.requests_to("/chat/completions"))
    page = texts(at)
    assert "Summary of the earlier conversation: " in page
    assert "no model call" in page
    # Shortened to fit, it keeps its newest lines and never claims turns it lost.
    assert "replaces turn 1" in page or "shortened" in page
    assert len(app_env.requests_to("/chat/completions")) == before
    at.button(key="cw_ask").click().run()
    assert not at.exception
    asked = app_env.last_request("/chat/completions").body["messages"]
    assert asked[-1]["content"].startswith("Summarize this conversation")
    assert "written by the model" in texts(at)
    assert len(at.open_conversation().extra_calls) == 1  # counted with the conversation


def test_summarizing_at_the_lowest_budget_never_summarizes_the_current_turn(conversation) -> None:
    at = open_page(conversation, "app_pages/context_window.py")
    at.selectbox(key="cw_strategy").set_value("Summarize older turns").run()
    slider = at.slider(key="cw_budget")
    slider.set_value(slider.min).run()
    rows = table(at)
    current = rows[rows["Part"] != "History"]
    assert list(current["Part"]) == ["System prompt", "Current turn", "Current turn"]
    assert current["Kept"].all() and all("always kept" in why for why in current["Why"])
    assert not rows[rows["Part"] == "History"]["Kept"].any()
    assert not at.warning  # the budget fits what is always kept: no overflow


def test_a_typed_next_message_joins_the_request(conversation) -> None:
    at = open_page(conversation, "app_pages/context_window.py")
    at.text_input(key="cw_next").input("And what is my favorite color?").run()
    rows = table(at)
    assert list(rows["Message"])[-1] == "And what is my favorite color?"
    assert list(rows["Part"])[-1] == "Current turn"


def test_pinned_and_left_out_messages_on_the_context_window(conversation) -> None:
    chosen = conversation.with_in_context(0, "pinned").with_in_context(2, "left_out")
    at = open_page(chosen, "app_pages/context_window.py")
    at.selectbox(key="cw_strategy").set_value("Last N turns").run()
    at.slider(key="cw_last_n").set_value(0).run()
    rows = table(at)
    pinned, left_out = rows.iloc[1], rows.iloc[3]
    assert pinned["Kept"] and pinned["Why"] == "pinned: always kept"
    assert pinned["In context"] == "📌 pinned" and pinned["Message"] == "My name is Alice."
    assert not left_out["Kept"] and left_out["Why"] == "left out by you"
    assert left_out["Message"] == struck_through("My favorite color is blue.")
    assert left_out["In context"] == "left out"
    page = texts(at)
    assert "1 message left out by you (struck through)." in page
    assert "📌 pinned: always sent, never trimmed or summarized" in page
    assert "left out by you, never sent" in page
    # The request counts neither the left-out message nor what trimming dropped.
    sent = rows[rows["Kept"]]["Tokens"].sum()
    assert int(sent) < int(rows["Tokens"].sum())


def test_context_window_page_with_an_empty_conversation(app_env) -> None:
    at = open_page(None, "app_pages/context_window.py")
    assert "no messages yet" in texts(at)
    assert len(charts(at)) == 1


# -- Request inspector ------------------------------------------------------------------------


def json_bodies(at: AppTest) -> list[dict]:
    return [json.loads(e.value) for e in at.json]


def test_the_inspector_shows_the_exact_last_request_and_the_other_shapes(
    conversation, app_env
) -> None:
    at = open_page(conversation, "app_pages/request_inspector.py")
    assert at.title[0].value == "Request inspector"
    assert at.selectbox(key="inspector_turn").value.label == "Turn 3: What is my name?"
    bodies = json_bodies(at)
    assert bodies[0] == app_env.last_request("/chat/completions").body
    assert bodies[1]["choices"][0]["message"]["content"] == "Your name is Alice."
    assert "Request body (exactly as sent)" in texts(at)
    # The three shapes: a message array, a chained Responses call, Anthropic's system + messages.
    chat, responses, messages = bodies[2:5]
    assert chat == bodies[0]
    assert responses["input"] == [
        {"type": "message", "role": "user", "content": "What is my name?"}
    ]
    assert "previous_response_id" in responses
    assert messages["system"] == "You are a helpful assistant."
    assert len(charts(at)) == 1
    sizes = [c.value for c in at.caption if c.value.endswith(("bytes", "the API used"))]
    assert len(sizes) == 3


def test_an_earlier_turn_can_be_chosen(conversation, app_env) -> None:
    at = open_page(conversation, "app_pages/request_inspector.py")
    at.selectbox(key="inspector_turn").select_index(0).run()
    bodies = json_bodies(at)
    assert bodies[0] == app_env.requests_to("/chat/completions")[0].body
    assert len(bodies[0]["messages"]) == 2


def test_after_a_reload_the_request_is_rebuilt_and_says_so(conversation, app_env) -> None:
    reloaded = Conversation.from_dict(conversation.to_dict())
    at = open_page(reloaded, "app_pages/request_inspector.py")
    page = texts(at)
    assert "Request body (rebuilt)" in page
    assert "was not kept" in page
    assert "Not kept" in "\n".join(i.value for i in at.info)
    sent = app_env.last_request("/chat/completions").body
    assert json_bodies(at)[0]["messages"] == sent["messages"]


def test_a_chained_turn_shows_its_previous_response_id(app_env, openai_client) -> None:
    chained = alice(OpenAIResponses(model=OPENAI_MODEL, client=openai_client))
    at = open_page(chained, "app_pages/request_inspector.py")
    body = json_bodies(at)[0]
    assert body["previous_response_id"] == chained.replies[3].response_id
    assert body["input"] == [{"type": "message", "role": "user", "content": "What is my name?"}]


def test_the_inspector_shows_the_tiktoken_pieces_of_an_openai_turn(conversation) -> None:
    at = open_page(conversation, "app_pages/request_inspector.py")
    assert "What the model sees" in [h.value for h in at.subheader]
    assert "does not publish as text the role and separator tokens" in texts(at)
    chips = at.get("html")[0].proto.body
    assert 'title="id ' in chips and "+3" in chips  # the reply's priming, counted


def test_the_inspector_says_which_messages_were_pinned_and_left_out(app_env, openai_client):
    provider = OpenAIChat(model=OPENAI_MODEL, client=openai_client)
    conversation = alice(provider)
    conversation = conversation.with_in_context(0, "pinned").with_in_context(2, "left_out")
    conversation, _ = send(conversation, "What is my favorite color?", provider)
    at = open_page(conversation, "app_pages/request_inspector.py")
    assert (
        ":material/keep: Pinned: message 1 (“My name is Alice.”) · Left out: message 3 "
        "(“My favorite color is blue.”) (not in this request)"
    ) in at.captions()
    sent = [m["content"] for m in json_bodies(at)[0]["messages"]]
    assert "My favorite color is blue." not in sent and "My name is Alice." in sent


def test_the_inspector_without_replies_says_what_to_do(app_env) -> None:
    at = open_page(None, "app_pages/request_inspector.py")
    assert "No replies yet" in at.info[0].value


# -- Compare ----------------------------------------------------------------------------------


def test_compare_runs_three_ways_and_only_the_stateless_one_forgets(app_env) -> None:
    at = open_page(None, "app_pages/compare.py")
    at.text_area(key="compare_script").input("My name is Alice.\nWhat is my name?").run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    # One row per turn: the user's line, then the three replies side by side.
    replies = [m.markdown[0].value for m in at.chat_message if m.name == "assistant"]
    stateless, manual, chained = replies[0::3], replies[1::3], replies[2::3]
    assert stateless[1] == "I don't know your name."
    assert manual[1] == chained[1] == "Your name is Alice."
    assert len(charts(at)) == 2
    assert len(app_env.requests_to("/responses")) == 2
    assert len(app_env.requests_to("/chat/completions")) == 4
    totals = at.dataframe[0].value
    assert list(totals["Way"]) == [
        "Stateless single turns",
        "Manual message array",
        "Responses chaining",
    ]


def test_compare_never_resends_a_left_out_turn(app_env) -> None:
    at = open_page(None, "app_pages/compare.py")
    script = "My name is Alice.\nMy favorite color is blue.\nWhat's my favorite color?"
    at.text_area(key="compare_script").input(script).run()
    at.multiselect(key="compare_left_out").select(2).run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    replies = [m.markdown[0].value for m in at.chat_message if m.name == "assistant"]
    assert replies[-3:] == ["I don't know your favorite color."] * 3
    chat, responses = app_env.requests_to("/chat/completions"), app_env.requests_to("/responses")
    last_turn = chat[-2:] + responses[-1:]  # stateless, manual, chained
    assert all("My favorite color is blue." not in json.dumps(r.body) for r in last_turn)
    captions = [c.value for c in at.caption]
    assert ":material/visibility_off: Left out: asked here, never sent again." in captions
    assert any("started a new chain" in c for c in captions)


def test_compare_before_a_run_explains_what_it_will_do(app_env) -> None:
    at = open_page(None, "app_pages/compare.py")
    assert "15 times" in at.info[0].value
    assert not charts(at)


# -- Summary ----------------------------------------------------------------------------------


def test_the_summary_page_shows_the_recent_turns_and_seeds_a_new_conversation(
    conversation, app_env
) -> None:
    at = open_page(conversation, "app_pages/summary.py")
    assert at.title[0].value == "Conversation summary"
    assert "User: My name is Alice." in at.text[0].value
    at.button[1].click().run()  # Summarize the whole conversation
    assert not at.exception
    asked = app_env.last_request("/chat/completions").body["messages"]
    assert asked[-1]["content"].startswith("Summarize this conversation")
    written = at.markdown[-1].value
    assert written.startswith("Summary:")
    at.button(key="seed_llm").click().run()
    assert not at.exception, at.exception
    seeded = at.open_conversation()
    assert seeded.id != conversation.id and seeded.messages == []
    assert SEED_HEADING in seeded.system_prompt and written in seeded.system_prompt
    # The page switched to Chat, and the sidebar's system prompt box holds the seeded prompt,
    # so the next run does not put the old one back.
    assert at.chat_input(key="chat_input") is not None
    assert at.session_state["system_prompt"] == seeded.system_prompt
    at.run()
    assert at.open_conversation().system_prompt == seeded.system_prompt


def test_a_summary_the_page_asks_for_counts_in_the_chat_pages_totals(conversation, app_env) -> None:
    at = open_page(conversation, "app_pages/chat.py")
    [before] = [c for c in at.captions() if "sent in all" in c]
    assert "3 replies · " in before and "calls" not in before
    at.switch_page("app_pages/summary.py").run()
    at.button[1].click().run()  # Summarize the whole conversation
    assert not at.exception, at.exception
    at.switch_page("app_pages/chat.py").run()
    [after] = [c for c in at.captions() if "sent in all" in c]
    assert "3 replies · 4 calls · " in after
    assert len(at.open_conversation().extra_calls) == 1


def test_the_recent_summary_can_seed_without_a_model_call(conversation, app_env) -> None:
    at = open_page(conversation, "app_pages/summary.py")
    calls = len(app_env.requests)
    at.button(key="seed_recent").click().run()
    seeded = at.open_conversation()
    assert "User: What is my name?" in seeded.system_prompt
    assert len(app_env.requests) == calls


def test_the_summary_page_without_messages(app_env) -> None:
    at = open_page(None, "app_pages/summary.py")
    assert "no messages yet" in at.info[0].value


# -- Offline, on the local model --------------------------------------------------------------


@pytest.mark.local_model
def test_the_inspector_shows_what_the_local_model_saw(app_env) -> None:
    local = LocalModel()
    short = GenerationOptions(max_output_tokens=8, temperature=0.0, seed=1)
    conversation, _ = send(
        Conversation(system_prompt="Be brief."), "I am <b>Alice</b>.", local, options=short
    )
    conversation, _ = send(conversation, "What is my name?", local, options=short)
    at = open_page(conversation, "app_pages/request_inspector.py")
    assert "What the model sees" in [h.value for h in at.subheader]
    assert "written by the chat template of SmolLM2-135M-Instruct.Q4_1.gguf" in texts(at)
    assert [t.label for t in at.tabs] == ["Tokens", "Text", "Token ids"]
    prompt = conversation.replies[3].request_body["prompt"]
    assert "<|im_start|>user\nI am <b>Alice</b>.<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    # The exact text, special tokens and all (a code box drops the final line break: said).
    assert at.code[0].value == prompt.rstrip("\n")
    assert "The text ends with `\\n`" in texts(at)
    chips = at.get("html")[0].proto.body
    assert "&lt;|im_start|&gt;" in chips and "<b>" not in chips and 'title="id 1"' in chips
    ids = at.dataframe[0].value
    assert len(ids) == local.tokenizer().count_prompt(messages_for_turn(conversation, 3))
    assert list(ids["piece"][:2]) == ["<|im_start|>", "system"]


@pytest.mark.local_model
def test_the_pages_work_offline_on_the_local_model(app_env) -> None:
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.session_state["provider_kind"] = "Local"  # the sidebar's Provider box
    at.session_state["max_output"] = 16  # short replies keep the run quick
    at.run()
    at.switch_page("app_pages/compare.py").run()
    assert at.session_state["settings"].spec.kind == "Local"
    at.text_area(key="compare_script").input("My name is Alice.\nWhat is my name?").run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert len([m for m in at.chat_message if m.name == "assistant"]) == 6  # 2 turns, 3 ways
    assert len(charts(at)) == 2
    page = texts(at)
    assert "local response store" in page
    assert "counted by the local model" in page or "as the provider reported them" in page
    # The context window page counts with the local model's own tokenizer and window.
    at.switch_page("app_pages/context_window.py").run()
    assert not at.exception, at.exception
    assert {m.label for m in at.metric} >= {"Window (tokens)"}
    assert len(charts(at)) == 1
