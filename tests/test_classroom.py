"""A class on one machine: class mode's settings, the defaults a llama.cpp server gets, who
opens which conversation, and ``python -m chatkit.classroom`` run for real."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import chatkit.store
from chatkit.classroom import (
    BUNDLED_ALIAS,
    Board,
    app_environment,
    board_address,
    board_text,
    bundled_model,
    create_class,
    model_alias,
)
from chatkit.config import CLASS_LIMITS, load_config
from chatkit.conversation import Conversation
from chatkit.errors import ChatkitError, mask_secrets
from chatkit.hosted import visitor_models
from chatkit.prices import price_for
from chatkit.providers import (
    ProviderSpec,
    default_provider_kind,
    generation_defaults,
    host_model,
    make_provider,
    provider_kind,
    provider_variables,
)
from chatkit.providers.local import defaults as local_defaults
from chatkit.providers.local.server import server_command
from chatkit.providers.served_models import forget_served_models
from chatkit.session import ChatSession
from chatkit.store import ConversationStore
from tests.apptest_helpers import chat_requests, configure_env, start
from tests.processes import ROOT, free_port, stop_process

COMPATIBLE = "OpenAI-compatible"
LLAMA_URL = "http://127.0.0.1:8080/v1"


def _config(**environ: str):
    return load_config(environ, {}, provider_variables=provider_variables())


# -- class mode's settings ------------------------------------------------------------------------


def test_class_mode_is_the_hosted_setting_with_allowances_for_a_lesson() -> None:
    config = _config(CHATKIT_CLASS="true")
    assert config.hosted and config.classroom.enabled
    limits = config.limits
    assert limits.turn_limit >= 15 * 4 + 100  # four Compare runs and a lesson's chat
    assert limits.turn_limit == CLASS_LIMITS.turn_limit
    assert limits.visitor_by == "session"  # students may share one address
    assert _config(CHATKIT_HOSTED="true").limits.turn_limit == 20  # a public demo's are kept


def test_a_class_allowance_wins_over_its_hosted_twin() -> None:
    config = _config(
        CHATKIT_CLASS="yes",
        CHATKIT_HOSTED_TURN_LIMIT="50",
        CHATKIT_CLASS_CALLS_PER_DAY="120",
        CHATKIT_CLASS_TOKENS_PER_DAY="90000",
        CHATKIT_CLASS_CALLS_PER_MINUTE="30",
    )
    assert config.limits.turn_limit == 120
    assert config.limits.token_limit == 90_000
    assert config.limits.messages_per_minute == 30
    assert _config(CHATKIT_CLASS="on", CHATKIT_HOSTED_TURN_LIMIT="50").limits.turn_limit == 50
    # outside class mode the class's variables change nothing
    assert _config(CHATKIT_CLASS_CALLS_PER_DAY="120").limits.turn_limit == 20


def test_the_teacher_password_is_a_secret_and_the_emails_a_list() -> None:
    password = "correct-horse-battery"
    config = load_config(
        {"CHATKIT_CLASS": "true", "CHATKIT_TEACHER_EMAILS": " Ada@School.org, bob@school.org "},
        {"CHATKIT_TEACHER_PASSWORD": password},
    )
    assert password not in repr(config) and password not in repr(config.classroom)
    assert "[hidden]" in mask_secrets(f"could not log in with {password}")
    assert config.classroom.teacher_access
    assert config.classroom.is_teacher_password(password)
    assert not config.classroom.is_teacher_password("correct-horse")
    assert config.classroom.teacher_emails == ("ada@school.org", "bob@school.org")
    assert config.classroom.is_teacher_email("ADA@school.org")
    secrets_list = load_config({}, {"CHATKIT_TEACHER_EMAILS": ["ada@school.org"]})
    assert secrets_list.classroom.teacher_emails == ("ada@school.org",)
    assert not load_config({}, {}).classroom.teacher_access


# -- a llama.cpp server behind OPENAI_BASE_URL ------------------------------------------------


def test_a_base_url_at_another_server_without_a_key_starts_on_the_compatible_provider() -> None:
    assert default_provider_kind({"OPENAI_BASE_URL": LLAMA_URL}, {}) == COMPATIBLE
    assert default_provider_kind({}, {"OPENAI_BASE_URL": LLAMA_URL}) == COMPATIBLE
    with_key = {"OPENAI_BASE_URL": LLAMA_URL, "OPENAI_API_KEY": "sk-fake"}
    assert default_provider_kind(with_key, {}) == "OpenAI"
    assert default_provider_kind({"OPENAI_BASE_URL": "https://api.openai.com/v1"}, {}) == "OpenAI"


def test_the_local_models_defaults_for_a_server_running_it() -> None:
    compatible = provider_kind(COMPATIBLE)
    plain = generation_defaults(compatible, {})
    assert plain.temperature is None and plain.max_output_tokens is None  # the sidebar's own
    local = generation_defaults(compatible, {"CHATKIT_GENERATION_DEFAULTS": "local"})
    assert (local.temperature, local.max_output_tokens, local.system_prompt) == (
        local_defaults.TEMPERATURE,
        local_defaults.MAX_OUTPUT_TOKENS,
        local_defaults.SYSTEM_PROMPT,
    )
    chosen = generation_defaults(
        compatible,
        {
            "CHATKIT_GENERATION_DEFAULTS": "Local",
            "CHATKIT_TEMPERATURE": "0.3",
            "CHATKIT_MAX_OUTPUT_TOKENS": "96",
            "CHATKIT_SYSTEM_PROMPT": "Be brief.",
        },
    )
    assert (chosen.temperature, chosen.max_output_tokens, chosen.system_prompt) == (
        0.3,
        96,
        "Be brief.",
    )
    nonsense = generation_defaults(
        compatible, {"CHATKIT_TEMPERATURE": "hot", "CHATKIT_MAX_OUTPUT_TOKENS": "-4"}
    )
    assert nonsense.temperature is None and nonsense.max_output_tokens is None


def test_the_compatible_model_is_the_hosts_or_the_one_its_server_lists(server) -> None:
    forget_served_models()
    compatible = provider_kind(COMPATIBLE)
    named = {"CHATKIT_COMPATIBLE_MODEL": "smollm2-135m", "OPENAI_BASE_URL": LLAMA_URL}
    assert host_model(compatible, named) == "smollm2-135m"
    assert host_model(compatible, {"OPENAI_BASE_URL": server.openai_base_url}) == "gpt-4o"
    assert host_model(provider_kind("OpenAI"), {"OPENAI_BASE_URL": LLAMA_URL}) is None
    nobody = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    assert host_model(compatible, {"OPENAI_BASE_URL": nobody}) is None  # quietly: the default
    assert time.monotonic() - started < 5
    forget_served_models()


def test_a_class_offers_the_model_its_server_serves() -> None:
    config = _config(
        CHATKIT_CLASS="true", OPENAI_BASE_URL=LLAMA_URL, CHATKIT_COMPATIBLE_MODEL="smollm2-135m"
    )
    assert visitor_models(config, provider_kind(COMPATIBLE)) == ("smollm2-135m",)


def test_an_unknown_model_has_no_window_and_no_price_rather_than_another_models() -> None:
    spec = ProviderSpec(COMPATIBLE, "chat", "smollm2-135m", base_url=LLAMA_URL)
    assert make_provider(spec).context_window() is None
    assert price_for("smollm2-135m", provider_kind(COMPATIBLE).models_key) is None


# -- who opens which conversation ---------------------------------------------------------------


def _saved_by(store: ConversationStore, owner: str) -> Conversation:
    conversation = Conversation(title="Alice's homework")
    conversation.add_user("My name is Alice.")
    store.save(conversation, owner=owner)
    return conversation


@pytest.mark.parametrize(
    ("environ", "opens"),
    [
        ({}, "itself"),  # one person's app: everyone's list is theirs
        ({"CHATKIT_HOSTED": "true"}, "a copy"),  # a public demo: a shared link opens a copy
        ({"CHATKIT_CLASS": "true"}, "nothing"),  # a class: never another student's
    ],
)
def test_opening_someone_elses_conversation_by_its_id(tmp_path, environ, opens) -> None:
    with ConversationStore(f"sqlite:///{tmp_path / 'chat.db'}") as store:
        alices = _saved_by(store, "browser:alice")
        config = _config(**environ)
        bob = ChatSession(config, owner="browser:bob", conversations=store)
        if opens == "nothing":
            with pytest.raises(ChatkitError, match="someone else in this class"):
                bob.open_saved(alices.id)
            assert store.list("browser:bob") == []
        else:
            opened = bob.open_saved(alices.id)
            assert opened is not None and opened.messages == alices.messages
            assert (opened.id == alices.id) == (opens == "itself")
        alice = ChatSession(config, owner="browser:alice", conversations=store)
        assert alice.open_saved(alices.id).id == alices.id
        assert bob.open_saved("no-such-id") is None


def test_in_class_mode_each_list_is_its_owners(tmp_path) -> None:
    with ConversationStore(f"sqlite:///{tmp_path / 'chat.db'}") as store:
        _saved_by(store, "browser:alice")
        config = _config(CHATKIT_CLASS="true")
        # the sidebar lists everyone's only outside a hosted app (chatkit.ui.library)
        assert [c.owner for c in store.list("browser:alice", include_all=not config.hosted)] == [
            "browser:alice"
        ]
        assert store.list("browser:bob", include_all=not config.hosted) == []


# -- the class command's pieces -----------------------------------------------------------------


def test_the_board_names_the_address_the_link_and_the_code() -> None:
    board = Board("192.168.1.20", 8501, "K7Q2MX")
    assert board.join_link == "http://192.168.1.20:8501/lessons?join=K7Q2MX"
    text = board_text(board, password="s3cret-word", qr=None)
    assert "Open:  http://192.168.1.20:8501" in text
    assert "Join:  http://192.168.1.20:8501/lessons?join=K7Q2MX" in text
    assert "Code:  K7Q2MX" in text and "s3cret-word" in text
    assert "pip install qrcode" in text
    assert "QR-DRAWING" in board_text(board, password=None, qr="QR-DRAWING\n")
    given = board_text(board, password=None, qr=None)
    assert "the one you gave" in given
    no_class = board_text(Board("10.0.0.5", 8501), password="pw-12345678", qr=None)
    assert "teacher page" in no_class and "http://10.0.0.5:8501/teacher" in no_class
    assert "Join:" not in no_class
    assert board_address("127.0.0.3") == "127.0.0.3"


def test_the_app_runs_in_class_mode_without_the_teachers_keys() -> None:
    env = app_environment(
        {"PATH": "/usr/bin", "OPENAI_API_KEY": "sk-teacher", "ANTHROPIC_API_KEY": "sk-ant-t"},
        llama_url="http://127.0.0.1:9000",
        model=BUNDLED_ALIAS,
        password="pw-0123456789",
        database_url="sqlite:///class.db",
    )
    assert "OPENAI_API_KEY" not in env and "ANTHROPIC_API_KEY" not in env
    assert env["PATH"] == "/usr/bin"
    config = load_config(env, {}, provider_variables=provider_variables())
    assert config.hosted and config.classroom.is_teacher_password("pw-0123456789")
    settings = config.provider_settings
    assert default_provider_kind({}, settings) == COMPATIBLE
    compatible = provider_kind(COMPATIBLE)
    assert host_model(compatible, settings) == BUNDLED_ALIAS
    defaults = generation_defaults(compatible, settings)
    assert (defaults.temperature, defaults.max_output_tokens) == (0.0, 48)


def test_the_bundled_model_and_the_servers_command() -> None:
    assert bundled_model().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert model_alias(None) == BUNDLED_ALIAS
    assert model_alias("/models/qwen.gguf") == "qwen"
    command = server_command(Path("m.gguf"), parallel=4, alias="smollm2-135m", binary=Path("ls"))
    assert command[command.index("--alias") + 1] == "smollm2-135m"
    assert "-nr" in command and command[command.index("--parallel") + 1] == "4"


def test_the_class_is_created_in_the_apps_database(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'class.db'}"
    code = create_class(url, "Lesson one")
    if not hasattr(chatkit.store, "ClassStore"):
        assert code is None  # the teacher page creates it
        return
    assert code
    with ConversationStore(url) as store:
        found = chatkit.store.ClassStore(store.database).class_by_code(code.lower())
    assert found is not None and found.title == "Lesson one"


# -- the class command, for real ------------------------------------------------------------------

HOST_KEY = "sk-teacher-key-never-shown"


def _command_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATKIT_"))}
    env.update(
        CHATKIT_DATA_DIR=str(tmp_path / "data"), OPENAI_API_KEY=HOST_KEY, PYTHONUNBUFFERED="1"
    )
    return env


def _board_url(output: str, port: int) -> str:
    match = re.search(rf"Open:  (http://[0-9.]+:{port})\b", output)
    assert match, output
    join = re.search(r"Join:  (\S+)", output)
    if join:  # once the class store keeps classes
        code = re.search(r"Code:  (\S+)", output)
        assert code and join.group(1) == f"{match.group(1)}/lessons?join={code.group(1)}"
    else:
        assert f"{match.group(1)}/teacher" in output
    return match.group(1)


def test_the_class_command_checks_that_the_app_answers_and_stops(tmp_path) -> None:
    port = free_port()
    finished = subprocess.run(
        [sys.executable, "-m", "chatkit.classroom", "--check", "--port", str(port)],
        cwd=ROOT,
        env=_command_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output
    _board_url(output, port)
    assert "Check passed" in output and "Teacher password: " in output
    assert HOST_KEY not in output


def test_students_reach_the_class_on_another_address_and_ctrl_c_ends_it(tmp_path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "chatkit.classroom", "--port", str(port), "--parallel", "2"],
        cwd=ROOT,
        env=_command_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.stdout is not None:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C ends the class" in line:
                break
        output = "".join(lines)
        assert "Ctrl-C ends the class" in output, output
        _board_url(output, port)
        # bound to every interface: a second loopback address stands in for a student's machine
        with urllib.request.urlopen(f"http://127.0.0.2:{port}/_stcore/health", timeout=10) as ok:
            assert ok.status == 200
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            stop_process(process)
    assert process.returncode == 0
    assert "The class has ended" in rest
    assert HOST_KEY not in output + rest
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)


# -- the app in class mode, on a server without a key --------------------------------------------


def test_a_class_opens_on_the_servers_model_and_never_on_a_classmates_link(
    monkeypatch, server, tmp_path
) -> None:
    forget_served_models()
    configure_env(
        monkeypatch,
        server,
        tmp_path,
        OPENAI_API_KEY=None,
        ANTHROPIC_API_KEY=None,
        CHATKIT_CLASS="true",
        CHATKIT_GENERATION_DEFAULTS="local",
    )
    alice = start()
    assert alice.find("selectbox", "Provider", sidebar=True).value == COMPATIBLE
    assert alice.find("selectbox", "Model", sidebar=True).options == ["gpt-4o"]  # it lists
    assert alice.find("slider", "Temperature", sidebar=True).value == 0.0
    assert alice.find("number_input", "Max output tokens", sidebar=True).value == 48
    alice.send("My name is Alice.")
    sent = chat_requests(server)[-1]
    assert sent["model"] == "gpt-4o" and sent["temperature"] == 0.0
    assert 48 in (sent.get("max_tokens"), sent.get("max_completion_tokens"))
    bob = start({"c": alice.query_params["c"]})  # another browser, with Alice's link
    assert any("someone else in this class" in text for text in bob.alerts())
    assert bob.open_conversation().messages == []
    assert not any(item.label.startswith("My name") for item in bob.sidebar.button)
    forget_served_models()
