"""Stateless vs. manual history vs. chaining: one script run three ways, side by side."""

import streamlit as st

from chatkit.costs import format_bytes
from chatkit.errors import ChatkitError
from chatkit.markdown import inert_markdown
from chatkit.prices import format_money
from chatkit.providers import ProviderSpec
from chatkit.teaching.compare import (
    CHAINED,
    DEFAULT_SCRIPT,
    WAY_EXPLANATIONS,
    WAY_LABELS,
    WAYS,
    ComparisonResult,
    run_comparison,
    script_lines,
)
from chatkit.ui import state
from chatkit.ui.charts import per_turn_chart
from chatkit.ui.teaching import header, model_caption

RESULT_KEY = "compare_result"


def _transcripts(result: ComparisonResult) -> None:
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
        for column, way in zip(st.columns(3), WAYS, strict=True):
            call = calls.get(way)
            with column:
                if call is None:
                    st.caption("waiting…")
                    continue
                with st.chat_message("assistant"):
                    st.markdown(inert_markdown(call.reply))
                    approx = "≈" if call.tokens_estimated else ""
                    st.caption(
                        f"{call.request_bytes:,} bytes sent · {approx}{call.input_tokens:,} "
                        f"input tokens"
                    )


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


def _run(lines: list[str]) -> None:
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
                _transcripts(result)
    except ChatkitError as error:
        st.error(
            f"The comparison stopped: {inert_markdown(error.message)}", icon=":material/error:"
        )
    progress.empty()
    live.empty()
    st.session_state[RESULT_KEY] = result


header(
    "Stateless vs. manual history vs. chaining",
    "One scripted conversation, three ways to keep context: the stateless one forgets, "
    "and chaining saves bytes but not tokens.",
)
st.caption(
    f"{model_caption()} · stateless and manual history use Chat Completions, chaining uses "
    f"Responses with previous_response_id."
)
text = st.text_area(
    "Script: one user message per line",
    value="\n".join(DEFAULT_SCRIPT),
    height=150,
    key="compare_script",
)
lines = script_lines(text)
if st.button(
    "Run the comparison", type="primary", icon=":material/play_arrow:", disabled=not lines
):
    _run(lines)
result: ComparisonResult | None = st.session_state.get(RESULT_KEY)
if result is None:
    st.info(
        f"Press Run: the script is sent {len(lines) * 3} times ({len(lines)} turns, three "
        f"ways). On the local model this takes a while; progress is shown turn by turn.",
        icon=":material/info:",
    )
    st.stop()
_transcripts(result)
_charts(result)
