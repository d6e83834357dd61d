"""Saved conversations under AppTest: ?c= links, the sidebar list, files, the hosted demo, keys.

Two ``AppTest`` instances are two browser sessions of one app process: they share the store
(``st.cache_resource``) and the database in ``CHATKIT_DATA_DIR``.
"""

from __future__ import annotations

import json

import pytest

from chatkit.dates import when_saved
from tests.apptest_helpers import (
    ChatApp,
    Downloads,
    chat_requests,
    configure_env,
    data_dir_files,
    start,
)

ALICE = [
    ("user", "My name is Alice."),
    ("assistant", "You said: My name is Alice. (1 messages in context)"),
]


def listed(at) -> list[str]:
    """Titles in the sidebar's list of saved conversations (each label is "title · date")."""
    return [b.label.rsplit(" · ", 1)[0] for b in at.sidebar.button if " · " in b.label]


def reopen(at: ChatApp) -> ChatApp:
    """A new browser session on the URL ``at`` shows (a reload, or a shared link)."""
    return start({"c": at.query_params["c"]})


# -- ?c= links ----------------------------------------------------------------------------------


def test_each_turn_is_saved_and_the_link_reopens_it(app) -> None:
    at = start()
    assert "c" not in at.query_params
    at.send("My name is Alice.")
    conversation_id = at.query_params["c"]
    assert reopen(at).bubbles() == ALICE
    at.send("What is my name?")
    assert at.query_params["c"] == conversation_id
    reloaded = reopen(at)
    assert reloaded.bubbles() == at.bubbles()
    assert listed(reloaded) == ["My name is Alice."]
    reloaded.send("My favorite color is blue.")  # the reopened conversation goes on
    reloaded.send("What is my name?")
    assert reloaded.replies()[-1] == "Your name is Alice."


def test_the_list_shows_when_each_was_saved_in_the_browsers_time_zone(app) -> None:
    at = start()
    at.send("My name is Alice.")
    [saved] = at.session_state["session"].conversations.list(include_all=True)
    dates = [b.label.rsplit(" · ", 1)[1] for b in at.sidebar.button if " · " in b.label]
    assert dates == [when_saved(saved.updated_at, "UTC")]  # the browser did not say
    at.context = {"timezone": "Asia/Kathmandu"}  # UTC+5:45: never the same clock time
    at.run()
    dates = [b.label.rsplit(" · ", 1)[1] for b in at.sidebar.button if " · " in b.label]
    assert (
        dates
        == [when_saved(saved.updated_at, "Asia/Kathmandu")]
        != [when_saved(saved.updated_at, "UTC")]
    )


def test_a_link_to_nothing_saved_opens_a_new_conversation(app) -> None:
    at = start({"c": "no-such-conversation"})
    assert at.bubbles() == []
    assert any("points to nothing saved" in text for text in at.alerts())


# -- the sidebar list ---------------------------------------------------------------------------


def test_the_list_opens_renames_and_deletes(app) -> None:
    at = start()
    at.send("My name is Alice.")
    at.click("New conversation", sidebar=True)
    assert at.bubbles() == []
    assert "c" not in at.query_params
    at.send("My name is Bob.")
    assert listed(at) == ["My name is Bob.", "My name is Alice."]  # newest first

    at.click("My name is Alice.", sidebar=True)
    assert at.bubbles() == ALICE
    at.send("What is my name?")
    assert at.replies()[-1] == "Your name is Alice."
    assert listed(at) == ["My name is Alice.", "My name is Bob."]

    at.find("text_input", "Title", sidebar=True).set_value("Alice's chat")
    at.click("Rename", sidebar=True)
    assert listed(at) == ["Alice's chat", "My name is Bob."]
    assert listed(reopen(at)) == ["Alice's chat", "My name is Bob."]

    at.click("Delete", sidebar=True)
    assert listed(at) == ["My name is Bob."]
    assert at.bubbles() == []
    assert listed(start()) == ["My name is Bob."]


def test_opening_a_conversation_restores_its_system_prompt(app) -> None:
    at = start()
    at.choose("System prompt", "You are a pirate.")
    at.send("My name is Alice.")
    at.click("New conversation", sidebar=True)
    at.choose("System prompt", "You are terse.")
    at.send("hello")
    at.click("My name is Alice.", sidebar=True)
    assert at.find("text_area", "System prompt", sidebar=True).value == "You are a pirate."
    at.send("What is my name?")
    assert chat_requests(app)[-1]["messages"][0]["content"] == "You are a pirate."


def test_a_conversation_saved_before_the_trimming_rename_restores_its_trimming(app) -> None:
    """Saves made before "kind" became "strategy" in the trimming settings open the same way."""
    from chatkit.conversation import Conversation
    from chatkit.store import ConversationStore, default_database_url

    old = Conversation(system_prompt="Be brief.")
    old.add_user("My name is Alice.")
    old.settings = {"provider": "OpenAI", "trimming": {"kind": "last_n", "last_n": 2}}
    with ConversationStore(default_database_url()) as store:
        store.save(old)
    at = start({"c": old.id})
    assert at.find("selectbox", "Trimming", sidebar=True).value == "Last N turns"


# -- download and import ------------------------------------------------------------------------


def test_export_then_import_round_trip(monkeypatch, app) -> None:
    downloads = Downloads(monkeypatch)
    at = start()
    at.send("My name is Alice.")
    at.send("My favorite color is blue.")
    exported = downloads.data(at, "JSON")
    document = json.loads(exported)
    assert [m["content"] for m in document["messages"]][::2] == [
        "My name is Alice.",
        "My favorite color is blue.",
    ]
    markdown = downloads.data(at, "Markdown")
    assert "### User\n\nMy name is Alice." in markdown
    assert "### Assistant\n\nYou said: My name is Alice." in markdown

    other = start()  # another session imports the file and continues it
    other.sidebar.file_uploader[0].upload("alice.json", exported.encode(), "application/json")
    other.rerun()
    # The conversation is already saved here: the app asks before duplicating it.
    assert any("is already saved here" in text for text in other.alerts())
    other.click("Keep both", sidebar=True)
    assert other.bubbles() == at.bubbles()
    assert any("Imported" in text for text in other.alerts())
    other.send("What's my favorite color?")
    assert other.replies()[-1] == "Your favorite color is blue."
    assert len(chat_requests(app)[-1]["messages"]) == 1 + 5
    # The import is a new saved conversation; the original is untouched.
    assert other.query_params["c"] != at.query_params["c"]
    assert len(reopen(at).bubbles()) == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "The file is not valid JSON"),
        (b'{"hello": "world"}', "This file is not a chatkit conversation"),
        (
            b'{"schema": "chatkit.conversation", "version": 1, "messages": [{"role": "wizard"}]}',
            "Message 1",
        ),
        (b"[" * 50_000 + b"]" * 50_000, "The file nests its data too deeply"),
        (b'{"n": ' + b"7" * 5000 + b"}", "The file holds a number too large"),
        (
            b'{"schema": "chatkit.conversation", "version": 1, "created_at": "soon", '
            b'"messages": []}',
            "This conversation file's creation time",
        ),
        (
            b'{"schema": "chatkit.conversation", "version": 1, "messages": ['
            + b",".join([b'{"role": "user", "content": "hi"}'] * 10_001)
            + b"]}",
            "The file holds 10,001 messages",
        ),
    ],
)
def test_a_malformed_import_says_so_and_changes_nothing(app, content, message) -> None:
    at = start()
    at.send("My name is Alice.")
    before = at.query_params["c"]
    at.sidebar.file_uploader[0].upload("broken.json", content, "application/json")
    at.rerun()
    [error] = at.sidebar.error
    assert error.value.startswith(message)
    assert at.bubbles() == ALICE
    assert at.query_params["c"] == before
    assert listed(at) == ["My name is Alice."]
    at.send("What is my name?")  # the conversation goes on as before
    assert at.replies()[-1] == "Your name is Alice."


# -- the hosted demo ----------------------------------------------------------------------------


def test_hosted_sessions_never_see_each_others_conversations(monkeypatch, server, tmp_path):
    configure_env(monkeypatch, server, tmp_path, CHATKIT_HOSTED="true")
    alice = start()
    alice.send("My name is Alice.")
    bob = start()
    bob.send("My name is Bob.")
    alice.rerun()
    assert listed(alice) == ["My name is Alice."]
    assert listed(bob) == ["My name is Bob."]
    # Bob opening Alice's link continues on a copy: her saved conversation is unchanged.
    visitor = start({"c": alice.query_params["c"]})
    assert visitor.bubbles() == ALICE
    assert listed(visitor) == []
    visitor.send("What is my name?")
    assert visitor.query_params["c"] != alice.query_params["c"]
    assert len(reopen(alice).bubbles()) == 2
    alice.rerun()
    assert listed(alice) == ["My name is Alice."]


def test_hosted_turn_limit(monkeypatch, server, tmp_path) -> None:
    configure_env(
        monkeypatch, server, tmp_path, CHATKIT_HOSTED="true", CHATKIT_HOSTED_TURN_LIMIT="2"
    )
    at = start()
    field = at.find("text_input", "API key", sidebar=True)  # optional in the demo
    assert field.placeholder == "optional: your own key"
    at.send("one")
    at.send("two")
    at.send("three")
    [warning] = at.warning
    assert warning.value.startswith("This demo allows 2 turns per visitor")
    assert "paste your own API key" in warning.value
    assert len(chat_requests(server)) == 2
    assert len(at.replies()) == 2
    assert len(start().replies()) == 0  # another visitor has turns of their own
    at.find("text_input", "API key", sidebar=True).set_value("fake-visitor-own-key-0000")
    at.click("Retry")
    assert len(at.replies()) == 3
    assert server.last_request("/chat/completions").headers["authorization"].endswith("0000")


def test_hosted_token_limit_reserves_the_longest_reply_before_each_call(
    monkeypatch, server, tmp_path
) -> None:
    configure_env(
        monkeypatch, server, tmp_path, CHATKIT_HOSTED="true", CHATKIT_HOSTED_TOKEN_LIMIT="560"
    )
    at = start()
    # About 25 prompt tokens plus the 512 a reply may take fit in 560; the reply then cost 30.
    at.send("My name is Alice.")
    # Now about 45 plus 512 would not fit beside the 30 spent: refused before the call.
    at.send("What is my name?")
    [warning] = at.warning
    assert warning.value.startswith("This demo allows 560 tokens per visitor a day")
    assert "530 are left" in warning.value and "paste your own API key" in warning.value
    assert len(chat_requests(server)) == 1
    assert any("530 of 560 tokens left today" in c for c in at.captions(sidebar=True))


# -- API keys stay out of everything ------------------------------------------------------------


def test_a_typed_api_key_is_never_saved_exported_or_rendered(monkeypatch, server, tmp_path):
    secret = "fake-key-TYPED-SECRET-1234567890abcdef"
    configure_env(monkeypatch, server, tmp_path, OPENAI_API_KEY=None)
    downloads = Downloads(monkeypatch)
    at = start()
    at.choose("Provider", "OpenAI")  # without a key, OPENAI_BASE_URL starts on OpenAI-compatible
    at.find("text_input", "API key", sidebar=True).set_value(secret)
    at.send("My name is Alice.")
    server.fail_next("401")  # the server's error quotes part of the key
    at.send("What is my name?")
    at.click("Retry")
    at.choose("API mode", "Responses")
    at.send("What is my name?")
    assert at.replies()[-1] == "Your name is Alice."
    assert server.last_request("/responses").headers["authorization"] == f"Bearer {secret}"

    fragments = (secret, secret[-12:], secret[8:20])
    files = data_dir_files(tmp_path)
    assert any(path.name == "chatkit.db" for path in files)
    for path in files:
        content = path.read_bytes()
        assert not any(f.encode() in content for f in fragments), path
    for label in ("JSON", "Markdown"):
        exported = downloads.data(at, label)
        assert not any(f in exported for f in fragments), label
    key_field = at.find("text_input", "API key", sidebar=True)
    texts = list(at.all_text())
    assert any("Your name is Alice." in text for text in texts)  # the scan sees the page
    for text in texts:
        if text == key_field.value:  # the password box itself holds what was typed
            continue
        assert not any(f in text for f in fragments), text[:200]
    assert at.has("text_input", "API key", sidebar=True)


def test_importing_a_saved_conversation_can_replace_it(monkeypatch, app) -> None:
    downloads = Downloads(monkeypatch)
    at = start()
    at.send("My name is Alice.")
    exported = downloads.data(at, "JSON")
    at.send("My favorite color is blue.")  # the saved one goes on after the export
    at.sidebar.file_uploader[0].upload("alice.json", exported.encode(), "application/json")
    at.rerun()
    at.click("Replace", sidebar=True)
    assert at.query_params["c"] == json.loads(exported)["id"]
    assert len(at.bubbles()) == 2 and len(reopen(at).bubbles()) == 2
    assert listed(at) == ["My name is Alice."]  # replaced, not duplicated
