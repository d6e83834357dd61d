"""The context window: how the open conversation fills the model's window, and trimming."""

import pandas as pd
import streamlit as st

from chatkit.errors import ChatkitError
from chatkit.markdown import inert_markdown
from chatkit.messages import Message
from chatkit.providers import Provider
from chatkit.teaching.context_view import (
    ContextView,
    PreviewSummarizer,
    build_view,
    context_messages,
    in_context_legend,
    minimum_budget,
)
from chatkit.tokens import count_label, count_message_tokens
from chatkit.turn import TRIMMING_LABELS, TrimmingSettings, make_strategy
from chatkit.ui import state
from chatkit.ui.charts import view_chart
from chatkit.ui.teaching import active_provider, header, model_caption

DEFAULT_UNKNOWN_WINDOW = 8192
MODEL_SUMMARY_KEY = "context_model_summary"
TRIMMED_STYLE = "background-color: #fde2e1; color: #7a1f1f"


def _context_window(provider: Provider) -> int:
    window = provider.context_window()
    if window is not None:
        st.metric(
            "Window (tokens)",
            _compact(window),
            help=f"{provider.model}'s own context window: {window:,} tokens.",
        )
        return window
    return int(
        st.number_input(
            "Context window (tokens)",
            min_value=256,
            max_value=10_000_000,
            value=DEFAULT_UNKNOWN_WINDOW,
            step=1024,
            key="cw_window",
            help=f"chatkit does not know {provider.model or 'this model'}'s window: enter it.",
        )
    )


def _compact(tokens: int) -> str:
    """A token count short enough for a metric on a projector: 1,047,576 -> "1.05M"."""
    if tokens < 100_000:
        return f"{tokens:,}"
    if tokens < 1_000_000:
        return f"{tokens / 1000:.0f}k"
    return f"{tokens / 1_000_000:.2f}M"


def _clamped_slider(label: str, low: int, high: int, default: int, key: str, help: str) -> int:
    """A slider whose remembered value is moved back inside its range when the range moves."""
    high = max(high, low + 1)
    if key in st.session_state:
        st.session_state[key] = min(max(st.session_state[key], low), high)
        return int(st.slider(label, low, high, key=key, help=help))
    return int(st.slider(label, low, high, min(max(default, low), high), key=key, help=help))


def _strategy_settings(
    messages: list[Message], provider: Provider, untrimmed: int
) -> TrimmingSettings:
    active = state.settings().trimming
    labels = list(TRIMMING_LABELS.values())
    label = st.selectbox(
        "Trimming strategy",
        labels,
        index=labels.index(TRIMMING_LABELS[active.strategy]),
        key="cw_strategy",
        help="Starts at the sidebar's choice; changing it here only previews, the chat is not "
        "affected.",
    )
    strategy = next(code for code, text in TRIMMING_LABELS.items() if text == label)
    if strategy != active.strategy:
        in_use = TRIMMING_LABELS[active.strategy]
        st.caption(
            f":material/science: A what-if: the chat itself uses “{in_use}” "
            f"(the sidebar's Trimming); this page only previews “{label}”."
        )
    if strategy == "last_n":
        turns = sum(1 for m in messages if m.role == "user")
        last_n = _clamped_slider(
            "Turns to keep", 0, turns, active.last_n, "cw_last_n", "Whole turns, newest first."
        )
        return TrimmingSettings("last_n", last_n=last_n)
    if strategy in ("token_budget", "summarize"):
        least = minimum_budget(messages, provider.tokenizer(), provider.model)
        budget = _clamped_slider(
            "Token budget",
            least,
            max(untrimmed, least + 1),
            active.max_tokens,
            "cw_budget",
            "Drag left to see which turns would be dropped. The lowest value still fits the "
            "system prompt and the message being answered.",
        )
        return TrimmingSettings(strategy, max_tokens=budget)  # type: ignore[arg-type]
    return TrimmingSettings("none")


def _summary_box(view: ContextView, provider: Provider) -> None:
    summary = view.summary
    st.subheader("The summary that would replace the dropped turns")
    st.caption(
        f"Shown: {summary.source_label} · {summary.tokens:,} tokens instead of "
        f"{view.dropped_tokens:,} · {summary.claim}"
    )
    with st.container(border=True):
        st.text(summary.text)
    if st.button("Ask the model for the summary", icon=":material/auto_awesome:", key="cw_ask"):
        with st.spinner(f"Asking {provider.model or provider.name} for a summary…"):
            try:
                text = state.session().summarize(provider, summary.replaces)  # counted
            except ChatkitError as error:
                st.error(inert_markdown(error.message), icon=":material/error:")
                return
        st.session_state[MODEL_SUMMARY_KEY] = (summary.replaces, text)
        st.rerun()


def _rows_table(view: ContextView) -> None:
    table = pd.DataFrame(
        [
            {
                "Turn": "—" if row.turn is None else str(row.turn),
                "Role": row.role,
                "Part": row.part,
                "Tokens": row.tokens,
                "Kept": row.kept,
                "In context": row.mark,
                "Why": row.reason,
                "Message": row.shown_preview,
            }
            for row in view.rows
        ]
    )
    styles = [
        "color: #8a8a8a" if row.left_out else "" if row.kept else TRIMMED_STYLE for row in view.rows
    ]
    styled = table.style.apply(lambda column: styles, axis=0)  # the row's style, every column
    st.dataframe(
        styled,
        hide_index=True,
        width="stretch",
        column_config={
            "Kept": st.column_config.CheckboxColumn("Kept", help="Would the request send it?"),
            "In context": st.column_config.TextColumn(
                "In context", help="Your choice on the Chat page: pinned, or left out."
            ),
            "Tokens": st.column_config.NumberColumn("Tokens", format="%d"),
            "Why": st.column_config.TextColumn("Why", width="medium"),
            "Message": st.column_config.TextColumn("Message", width="large"),
        },
    )


header(
    "Context window",
    "Every request must fit the model's context window: this is how the open conversation "
    "fills it, and which turns the trimming strategy would leave out.",
)
st.caption(model_caption())
provider = active_provider()
if provider is None:
    st.stop()
conversation = state.conversation()
settings = state.settings()
try:
    tokenizer = provider.tokenizer()
    left, middle, right = st.columns([1, 1, 2])
    with left:
        window = _context_window(provider)
    with middle:
        reserve = settings.options.max_output_tokens or 0
        st.metric(
            "Reply reserve",
            f"{reserve:,}",
            help="Tokens kept for the reply: the sidebar's Max output tokens (the reply must fit "
            "in the window too).",
        )
    with right:
        next_message = st.text_input(
            "Next message (optional)",
            key="cw_next",
            placeholder="Type a message to see where it would go",
        )
    messages = context_messages(conversation, next_message)
    untrimmed = count_message_tokens(messages, provider.model, tokenizer=tokenizer).total
    trimming = _strategy_settings(messages, provider, untrimmed)
    remembered = st.session_state.get(MODEL_SUMMARY_KEY)
    summarizer = PreviewSummarizer(dict([remembered]) if remembered else None)
    view = build_view(
        messages,
        make_strategy(trimming, provider, summarizer=summarizer),
        context_window=window,
        reserved_for_reply=reserve,
        tokenizer=tokenizer,
        model=provider.model,
    )
except ChatkitError as error:
    st.error(inert_markdown(error.message), icon=":material/error:")
    st.stop()

if not conversation.messages and not next_message.strip():
    st.info(
        "This conversation has no messages yet: chat a little on the Chat page, or type a "
        "next message above.",
        icon=":material/info:",
    )
approx = "" if view.exact else "≈"
count_kind = count_label(view.exact, view.note)
columns = st.columns(4)
columns[0].metric(
    "Sent (tokens)",
    approx + _compact(view.used),
    help="The request after trimming: system prompt, summary, history and current turn, "
    "with the few tokens that start the reply. " + count_kind,
)
columns[1].metric(
    "Left out",
    approx + _compact(view.dropped_tokens),
    help="Tokens of the messages the request would not send: trimmed, or left out by you.",
)
columns[2].metric(
    "Free",
    approx + _compact(max(view.free, 0)),
    help=f"{max(view.free, 0):,} tokens of the window left.",
)
columns[3].metric(
    "Window used", f"{(view.used + reserve) / window:.2%}", help="Request and reply reserve."
)
if not view.fits:
    st.error(
        f"The request and the reply need {-view.free:,} tokens more than the window holds: "
        f"choose a smaller budget or a trimming strategy.",
        icon=":material/data_usage:",
    )
if view.overflow:
    st.warning(view.overflow, icon=":material/data_usage:")
st.caption(count_kind)

st.altair_chart(
    view_chart(
        view,
        whole_subtitle=f"{window:,} tokens: next to a window this size, the request is a sliver.",
        zoomed_title="Zoomed in: the request and the reserve",
        zoomed_subtitle="The same parts without the free space, so the small ones can be seen.",
    ),
    width="stretch",
)
if view.summary is not None:
    _summary_box(view, provider)
elif trimming.strategy == "summarize" and view.dropped_rows:
    st.caption(
        "At this budget not even a shortened summary fits beside the system prompt: the "
        "dropped turns are simply left out. Raise the budget to see the summary."
    )
st.subheader("Every message")
dropped = view.dropped_turns
left_out = len(view.left_out_rows)
st.caption(
    " ".join(
        sentence
        for sentence in (
            f"Turns {', '.join(map(str, dropped))} would be left out (shaded)." if dropped else "",
            f"{left_out} message{'s' if left_out != 1 else ''} left out by you (struck through)."
            if left_out
            else "",
        )
        if sentence
    )
    or "Every message would be sent."
)
legend = in_context_legend(view.rows)
if legend:
    st.caption(f"{legend}. Pin or leave out a message with the buttons under it on the Chat page.")
_rows_table(view)
