"""Stateless vs. manual history vs. chaining: one script run three ways, side by side."""

import streamlit as st

from chatkit.costs import format_bytes
from chatkit.errors import ChatkitError
from chatkit.markdown import inert_markdown
from chatkit.messages import InContext, clip
from chatkit.prices import format_money
from chatkit.providers import ProviderSpec
from chatkit.teaching.compare import (
    CHAINED,
    DEFAULT_SCRIPT,
    STATELESS,
    WAY_EXPLANATIONS,
    WAY_LABELS,
    WAYS,
    ComparisonResult,
    run_comparison,
    script_lines,
    trimming_words,
)
from chatkit.ui import state
from chatkit.ui.charts import per_turn_chart
from chatkit.ui.teaching import header, model_caption

RESULT_KEY = "compare_result"
CHOICES_KEY = "compare_choices"  # the pins and leave-outs of the last run
PINNED_KEY = "compare_pinned"
LEFT_OUT_KEY = "compare_left_out"
IN_CONTEXT_CAPTIONS = {
    "pinned": ":material/keep: Pinned: sent on every later call, whatever trimming drops.",
    "left_out": ":material/visibility_off: Left out: asked here, never sent again.",
}


def _turn_picker(label: str, key: str, lines: list[str], taken: set[int], help: str) -> set[int]:
    """A multiselect of the script's turns (those in ``taken`` are not offered); a choice
    left behind by an edited script is forgotten."""
    options = [turn for turn in range(1, len(lines) + 1) if turn not in taken]
    if key in st.session_state:
        st.session_state[key] = [turn for turn in st.session_state[key] if turn in options]
    chosen = st.multiselect(
        label,
        options,
        key=key,
        format_func=lambda turn: f"{turn}: {clip(lines[turn - 1], 40)}",
        help=help,
    )
    return set(chosen)


def _in_context_choices(lines: list[str]) -> dict[int, InContext]:
    """The turns to pin and to leave out, as the chat's buttons would mark them."""
    left, right = st.columns(2)
    with left:
        pinned = _turn_picker(
            "Keep in context (pin)",
            PINNED_KEY,
            lines,
            set(st.session_state.get(LEFT_OUT_KEY, [])),
            "Once answered, the turn is sent on every later call, whatever trimming drops.",
        )
    with right:
        left_out = _turn_picker(
            "Leave out after its turn",
            LEFT_OUT_KEY,
            lines,
            pinned,
            "The turn is asked, then never sent again: the chained way starts a new chain "
            "without it.",
        )
    choices: dict[int, InContext] = dict.fromkeys(pinned, "pinned")
    return choices | dict.fromkeys(left_out, "left_out")


def _transcripts(result: ComparisonResult, choices: dict[int, InContext]) -> None:
    """The three transcripts side by side, one row per turn, so the replies line up."""
    for column, way in zip(st.columns(3), WAYS, strict=True):
        with column:
            st.markdown(f"#### {WAY_LABELS[way]}")
            st.caption(WAY_EXPLANATIONS[way])
    for turn, line in enumerate(result.script, start=1):
        calls = {call.way: call for call in result.calls if call.turn == turn}
        if not calls:
            break
        with st.chat_message("user"):
            st.markdown(f"**Turn {turn}:** {inert_markdown(line)}")
            if turn in choices:
                st.caption(IN_CONTEXT_CAPTIONS[choices[turn]])
        for column, way in zip(st.columns(3), WAYS, strict=True):
            call = calls.get(way)
            with column:
                if call is None:
                    st.caption("waiting…")
                    continue
                with st.chat_message("assistant"):
                    st.markdown(inert_markdown(call.reply))
                    approx = "≈" if call.tokens_estimated else ""
                    seen = (
                        ""
                        if way == STATELESS or turn == 1
                        else " · saw turns " + (", ".join(map(str, call.seen_turns)) or "none")
                    )
                    st.caption(
                        f"{call.request_bytes:,} bytes sent · {approx}{call.input_tokens:,} "
                        f"input tokens{seen}"
                    )
                    if call.note:
                        st.caption(inert_markdown(call.note))


def _charts(result: ComparisonResult) -> None:
    rows = result.chart_rows()
    if not rows:
        return
    st.subheader("What each call cost")
    left, right = st.columns(2)
    with left:
        st.altair_chart(
            per_turn_chart(
                rows, field="bytes sent", title="Bytes sent per turn", axis_title="Bytes sent"
            ),
            width="stretch",
        )
    with right:
        st.altair_chart(
            per_turn_chart(
                rows,
                field="input tokens",
                title="Input tokens billed per turn",
                axis_title="Input tokens",
            ),
            width="stretch",
        )
    source = (
        "counted by the local model"
        if any(call.tokens_estimated for call in result.calls)
        else "as the provider reported them"
    )
    st.caption(
        f"Input tokens {source}. Chaining sends fewer bytes, yet every earlier turn is still "
        f"read, and billed, as input on every call: its token bars grow like the manual array's."
    )
    if result.chained_locally:
        last = result.calls_of(CHAINED)[-1:] or []
        received = (
            f" ({format_bytes(last[0].model_received_bytes)} on the last turn)"
            if last and last[0].model_received_bytes
            else ""
        )
        st.caption(
            f"{result.provider} has no server-side chain: chatkit's local response store stands "
            f"in for it. The chaining bytes are the Responses request the client handed that "
            f"store (the new input + previous_response_id); the model itself still received the "
            f"full history{received}."
        )
    totals = [
        {
            "Way": WAY_LABELS[way],
            "Bytes sent in all": result.total_bytes(way),
            "Input tokens in all": result.total_input_tokens(way),
            "Cost (estimate)": _money(result.total_cost(way)),
        }
        for way in WAYS
    ]
    st.dataframe(
        totals,
        hide_index=True,
        width="stretch",
        column_config={
            "Bytes sent in all": st.column_config.NumberColumn(format="localized"),
            "Input tokens in all": st.column_config.NumberColumn(format="localized"),
        },
    )


def _money(dollars: float | None) -> str:
    return format_money(dollars) if dollars is not None else "no listed price"


def _run(lines: list[str], choices: dict[int, InContext]) -> None:
    settings = state.settings()
    spec = settings.spec
    chat_spec = ProviderSpec(spec.kind, "chat", spec.model, spec.base_url, spec.context_window)
    responses_spec = ProviderSpec(
        spec.kind, "responses", spec.model, spec.base_url, spec.context_window
    )
    try:
        chat_provider = state.provider_for(chat_spec)
        responses_provider = state.provider_for(responses_spec)
    except ChatkitError as error:
        st.error(inert_markdown(error.message), icon=":material/error:")
        return
    progress = st.progress(0.0, text=f"Turn 1 of {len(lines)}: starting…")
    live = st.empty()
    run = run_comparison(
        lines,
        chat_provider,
        responses_provider,
        system_prompt=settings.system_prompt,
        options=settings.options,
        trimming=settings.trimming,
        in_context=choices,
    )
    result = ComparisonResult(tuple(lines))
    try:
        while True:
            try:
                step = next(run)
            except StopIteration as finished:
                result = finished.value
                break
            result = step.result
            progress.progress(step.done / step.total, text=step.text)
            with live.container():
                _transcripts(result, choices)
    except ChatkitError as error:
        st.error(
            f"The comparison stopped: {inert_markdown(error.message)}", icon=":material/error:"
        )
    progress.empty()
    live.empty()
    st.session_state[RESULT_KEY] = result
    st.session_state[CHOICES_KEY] = choices


header(
    "Stateless vs. manual history vs. chaining",
    "One scripted conversation, three ways to keep context: the stateless one forgets, "
    "and chaining saves bytes but not tokens.",
)
st.caption(
    f"{model_caption()} · stateless and manual history use Chat Completions, chaining uses "
    f"Responses with previous_response_id · trimming (the sidebar's, for manual history and "
    f"chaining): {trimming_words(state.settings().trimming)}."
)
text = st.text_area(
    "Script: one user message per line",
    value="\n".join(DEFAULT_SCRIPT),
    height=150,
    key="compare_script",
)
lines = script_lines(text)
in_context = _in_context_choices(lines)
if st.button(
    "Run the comparison", type="primary", icon=":material/play_arrow:", disabled=not lines
):
    _run(lines, in_context)
result: ComparisonResult | None = st.session_state.get(RESULT_KEY)
if result is None:
    st.info(
        f"Press Run: the script is sent {len(lines) * 3} times ({len(lines)} turns, three "
        f"ways). On the local model this takes a while; progress is shown turn by turn.",
        icon=":material/info:",
    )
    st.stop()
_transcripts(result, st.session_state.get(CHOICES_KEY, {}))
_charts(result)
