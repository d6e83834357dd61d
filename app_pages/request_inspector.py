"""The request inspector: the exact JSON of a turn, and the same turn in the other APIs."""

import streamlit as st

from chatkit.costs import format_bytes
from chatkit.markdown import inert_markdown
from chatkit.teaching.inspector import TurnInspection, inspect_turn, turn_choices
from chatkit.teaching.model_view import ModelView, visible, what_the_model_sees
from chatkit.teaching.token_chips import tokens_html
from chatkit.ui import state
from chatkit.ui.charts import size_bars
from chatkit.ui.teaching import header, model_caption


def _figures(inspection: TurnInspection) -> None:
    info = inspection.info
    columns = st.columns(3)
    columns[0].metric("Request size", format_bytes(inspection.request_bytes))
    usage = {row["figure"]: row["value"] for row in inspection.usage_rows()}
    approx = "≈" if info is not None and info.tokens_estimated else ""
    columns[1].metric(
        "Input tokens billed",
        f"{approx}{usage['Input tokens']:,}" if usage else "not reported",
        help="As the provider reported them: every earlier turn it read counts again.",
    )
    columns[2].metric(
        "Output tokens", f"{approx}{usage['Output tokens']:,}" if usage else "not reported"
    )
    api = inspection.shape.title.split(":")[0]
    where = f" by {info.provider} {info.model}".rstrip() if info and info.provider else ""
    st.markdown(f"Sent through the **{api}** API{inert_markdown(where)}.")
    if usage.get("Cached input tokens"):
        st.caption(f"{usage['Cached input tokens']:,} of the input tokens were cached.")


def _bodies(inspection: TurnInspection) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader(f"Request body ({inspection.request_label})")
        st.json(inspection.request_body, expanded=3)
        if inspection.received_body is not None:
            with st.expander(
                f"What the model received ({format_bytes(inspection.received_bytes or 0)})"
            ):
                st.json(inspection.received_body, expanded=2)
    with right:
        st.subheader("Response body")
        if inspection.response_body is None:
            st.info(
                "Not kept: response bodies live only in memory, so after a reload only the "
                "usage is left.",
                icon=":material/info:",
            )
        else:
            st.json(inspection.response_body, expanded=3)


def _model_sees(view: ModelView) -> None:
    st.subheader("What the model sees")
    st.caption(inert_markdown(view.sentence))
    if view.how == "count":
        return
    tabs = st.tabs(["Tokens", "Text", "Token ids"] if view.text else ["Tokens", "Token ids"])
    with tabs[0]:
        st.caption("One colour per token; hover over a token to see its id.")
        st.html(tokens_html(view))  # every piece escaped: model and user text is not markup
    if view.text:
        with tabs[1]:
            text = view.shown_text()
            st.code(text, language=None, wrap_lines=True)
            if text != text.rstrip():  # a code box drops it, but the model reads it
                ending = visible(text[len(text.rstrip()) :])
                st.caption(f"The text ends with `{ending}`: the reply is written after it.")
    with tabs[-1]:
        if view.hidden:
            st.caption(view.hidden_line)
        st.dataframe(view.rows(), hide_index=True, width="stretch")


def _every_shape(inspection: TurnInspection) -> None:
    st.subheader("The same turn in every API")
    st.caption(
        "What this turn would send as a Chat Completions array, as a chained Responses call, and "
        "as an Anthropic Messages body. The same model name is used in every shape, so the sizes "
        "differ only by shape."
    )
    actual = next((s.title for s in inspection.shapes if s.is_actual), "")
    st.altair_chart(
        size_bars(
            [{"name": s.title, "bytes": s.size} for s in inspection.shapes],
            title="Request size by API",
            highlight=actual,
        ),
        width="stretch",
    )
    for column, shaped in zip(st.columns(len(inspection.shapes)), inspection.shapes, strict=True):
        with column:
            mark = " · the API used" if shaped.is_actual else ""
            st.markdown(f"**{shaped.title}**")
            st.caption(f"{shaped.size:,} bytes{mark}")
            if shaped.note:
                st.caption(shaped.note)
            st.json(shaped.body, expanded=3)


header(
    "Request inspector",
    "The exact JSON chatkit sent to the provider for a turn, what came back, and what the "
    "same turn would have sent through the other two APIs.",
)
st.caption(model_caption())
conversation = state.conversation()
choices = turn_choices(conversation)
if not choices:
    st.info(
        "No replies yet: chat on the Chat page first, then come back to see the requests.",
        icon=":material/info:",
    )
    st.stop()
choice = st.selectbox(
    "Turn",
    choices,
    index=len(choices) - 1,
    format_func=lambda c: c.label,
    key="inspector_turn",
    help="The last turn is shown first; choose any earlier one.",
)
settings = state.settings()
inspection = inspect_turn(
    conversation,
    choice.assistant_index,
    options=settings.options,
    fallback_provider=settings.spec.kind,
    fallback_mode=settings.spec.mode,
    fallback_model=settings.spec.model,
)
with st.container(border=True):
    st.markdown(f"**You:** {inert_markdown(inspection.user_text)}")
    st.markdown(f"**Reply:** {inert_markdown(inspection.reply_text)}")
if inspection.in_context is not None and inspection.in_context.caption:
    st.caption(f":material/keep: {inert_markdown(inspection.in_context.caption)}")
_figures(inspection)
for note in inspection.notes:
    st.caption(inert_markdown(note))
_bodies(inspection)
with st.spinner("Rendering the prompt the model read…"):
    model_view = what_the_model_sees(
        conversation,
        choice.assistant_index,
        fallback_provider=settings.spec.kind,
        fallback_mode=settings.spec.mode,
        fallback_model=settings.spec.model,
    )
_model_sees(model_view)
_every_shape(inspection)
