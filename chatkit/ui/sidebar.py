"""The sidebar: provider, API mode, model, system prompt, key, trimming, saved conversations.

Its labels are the app's vocabulary; tests find widgets by them.
"""

from __future__ import annotations

import streamlit as st

from chatkit.errors import ChatkitError
from chatkit.hosted import visitor_endpoints, visitor_models, visitor_providers
from chatkit.markdown import inert_markdown
from chatkit.providers import (
    GenerationOptions,
    ProviderKind,
    ProviderSpec,
    default_provider_kind,
    generation_defaults,
    host_model,
    provider_kind,
)
from chatkit.session import Settings, uses_host_key
from chatkit.turn import TRIMMING_LABELS, TrimmingSettings
from chatkit.ui import library, local_models, saving, state

SYSTEM_PROMPT_PRESETS: dict[str, str] = {
    "Helpful assistant": "You are a helpful assistant.",
    "Tutor": (
        "You are a patient tutor. Explain step by step and check understanding with a question."
    ),
    "Concise assistant": "You are a concise assistant. Answer in at most three sentences.",
    "Socratic teacher": (
        "You are a Socratic teacher. Never give the answer directly; "
        "ask one guiding question at a time."
    ),
}
DEFAULT_MAX_OUTPUT_TOKENS = 512
MAX_LISTED = 30
IMPORT_ERROR_KEY = "import_error"


def _apply_preset() -> None:
    preset = st.session_state.get("system_prompt_preset")
    if preset in SYSTEM_PROMPT_PRESETS:
        st.session_state["system_prompt"] = SYSTEM_PROMPT_PRESETS[preset]


def _provider_section() -> ProviderSpec:
    config = state.config()
    names = visitor_providers(config)
    default_name = default_provider_kind({}, config.provider_settings)
    name = st.selectbox(
        "Provider",
        names,
        index=names.index(default_name) if default_name in names else 0,
        key="provider_kind",
    )
    kind = provider_kind(name)
    base_url = _base_url_field(kind)
    modes = kind.modes
    labels = [kind.mode_label(mode) for mode in modes]
    key = f"api_mode_{name}"
    if key not in st.session_state:  # a provider chosen anew keeps the mode of the last one
        last = st.session_state.get("api_mode_code", "chat")
        st.session_state[key] = kind.mode_label(last if last in modes else "chat")
    mode = modes[labels.index(st.radio("API mode", labels, key=key, horizontal=True))]
    st.session_state["api_mode_code"] = mode
    if kind.chains_locally:
        st.caption(
            f"{name} keeps no responses on its side: “{kind.mode_label('responses')}” chains "
            f"through chatkit's local response store, so previous_response_id works the same "
            f"way."
        )
    model = _model_field(kind)
    if kind.capabilities.needs_api_key:
        _api_key_field(kind)
    _allowance_caption(kind)
    return ProviderSpec(
        kind=name, mode=mode, model=(model or "").strip(), base_url=base_url or None
    )


def _base_url_field(kind: ProviderKind) -> str | None:
    """The server's address: typed (a hosted demo offers only the host's list)."""
    config = state.config()
    host_url = config.provider_setting(kind.base_url_env)
    if not kind.asks_base_url:
        return host_url
    if config.hosted:
        return st.selectbox("Base URL", visitor_endpoints(config, kind), key="base_url")
    _seed("base_url", host_url or kind.default_base_url or "")
    return st.text_input(
        "Base URL",
        key="base_url",
        help=kind.base_url_help or None,
    )


def _model_field(kind: ProviderKind) -> str:
    """The model: the local model picker (bundled, catalogue, or a file), free text, or a
    suggestion; in a hosted demo, one of the models the host allows (and no model files)."""
    config = state.config()
    if config.hosted:
        if kind.model_field == "path":
            st.caption(f"Model: {kind.model_label(config.provider_setting(kind.model_env) or '')}")
            return config.provider_setting(kind.model_env) or ""
        return st.selectbox("Model", visitor_models(config, kind), key=f"model_{kind.name}")
    if kind.model_field == "path":
        return local_models.model_picker(kind, config.provider_setting(kind.model_env) or "")
    if kind.model_field == "text":
        _seed(
            f"model_{kind.name}",
            host_model(kind, config.provider_settings) or kind.suggested_models[0],
        )
        return st.text_input("Model", key=f"model_{kind.name}")
    return st.selectbox(
        "Model", kind.suggested_models, key=f"model_{kind.name}", accept_new_options=True
    )


def _api_key_field(kind: ProviderKind) -> None:
    config = state.config()
    has_host_key = bool(state.session().host_api_key(kind.name))
    if has_host_key and not config.hosted:
        st.caption(f"Using the {kind.name} key from {kind.api_key_env}.")
        return
    st.text_input(
        "API key",
        type="password",
        key=f"api_key_{kind.name}",
        help="Kept only in this browser session; never saved, logged or exported.",
        placeholder="optional: your own key" if has_host_key else f"{kind.api_key_env}",
    )


def _allowance_caption(kind: ProviderKind) -> None:
    """In a hosted demo: what this visitor has left today on the host's resources."""
    if not state.config().hosted or not uses_host_key(state.typed_api_key(kind.name)):
        return
    meter = state.session().meter()
    if meter is not None:
        try:
            st.caption(meter.allowance().caption())
        except ChatkitError as error:
            st.caption(inert_markdown(error.message))


def _prompt_section(kind: ProviderKind) -> str:
    st.selectbox(
        "Preset",
        list(SYSTEM_PROMPT_PRESETS),
        key="system_prompt_preset",
        on_change=_apply_preset,
        index=None,
        placeholder="Choose a preset…",
    )
    if "system_prompt" not in st.session_state:
        st.session_state["system_prompt"] = (
            state.conversation().system_prompt
            or generation_defaults(kind, state.config().provider_settings).system_prompt
            or SYSTEM_PROMPT_PRESETS["Helpful assistant"]
        )
    return st.text_area("System prompt", key="system_prompt", height=90)


def _seed(key: str, default: object) -> None:
    """Give a widget its first value through session state (so that opening a conversation
    may set it too), instead of a default the widget would fight with."""
    if key not in st.session_state:
        st.session_state[key] = default


def _number(label: str, key: str, default: int, low: int, high: int, step: int = 1) -> int:
    """A number input whose value may also be set by a callback (e.g. "Trim to fit")."""
    current = st.session_state.get(key, default)
    st.session_state[key] = min(max(int(current), low), high)  # within the range it has now
    return int(st.number_input(label, low, high, step=step, key=key))


def _follow_kind_default(key: str, value: float) -> None:
    """Start ``key`` at the provider's default, and move it to the next provider's default on a
    switch unless the person changed it (it still holds the previous provider's default)."""
    marker = saving.PROVIDER_DEFAULT_MARKER.format(key)
    if key not in st.session_state or st.session_state[key] == st.session_state.get(marker):
        st.session_state[key] = value
    st.session_state[marker] = value


def _generation_section(kind: ProviderKind) -> tuple[TrimmingSettings, GenerationOptions]:
    labels = list(TRIMMING_LABELS.values())
    label = st.selectbox("Trimming", labels, key="trimming")
    strategy = next(code for code, text in TRIMMING_LABELS.items() if text == label)
    last_n, max_tokens = 10, 4000
    if strategy == "last_n":
        last_n = int(_number("Turns to keep", "trim_last_n", 10, 0, 1000))
    elif strategy in ("token_budget", "summarize"):
        max_tokens = int(_number("Token budget", "trim_max_tokens", 4000, 50, 2_000_000, 100))
    no_sampling = not kind.capabilities.sampling_parameters
    config = state.config()
    highest = config.limits.max_output_tokens if config.hosted else 200_000
    defaults = generation_defaults(kind, config.provider_settings)
    _follow_kind_default(
        "temperature", 0.7 if defaults.temperature is None else defaults.temperature
    )
    default_output = min(defaults.max_output_tokens or DEFAULT_MAX_OUTPUT_TOKENS, highest)
    _follow_kind_default("max_output", default_output)
    temperature = st.slider(
        "Temperature", 0.0, 2.0, step=0.1, key="temperature", disabled=no_sampling
    )
    if no_sampling:
        st.caption(f"{kind.name}'s current API takes no sampling parameters, so none is sent.")
    max_output = int(_number("Max output tokens", "max_output", default_output, 1, highest, 64))
    return (
        TrimmingSettings(strategy, last_n, max_tokens),  # type: ignore[arg-type]
        GenerationOptions(
            max_output_tokens=max_output, temperature=None if no_sampling else temperature
        ),
    )


def render_sidebar() -> Settings:
    """Draw the sidebar and return the settings it chose (also kept in session state)."""
    with st.sidebar:
        st.subheader("Model")
        spec = _provider_section()
        st.subheader("Prompt")
        system_prompt = _prompt_section(provider_kind(spec.kind))
        with st.expander("Trimming and generation", expanded=False):
            trimming, options = _generation_section(provider_kind(spec.kind))
        st.subheader("Conversations")
        library.conversations_section()
        with st.expander("Download or import"):
            library.files_section()
    current = state.conversation()
    if current.system_prompt != system_prompt:
        current.system_prompt = system_prompt
    chosen = Settings(spec, system_prompt, trimming, options)
    st.session_state["settings"] = chosen
    return chosen
