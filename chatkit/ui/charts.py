"""The teaching pages' Altair charts: built from chatkit's figures, drawn by the pages.

Every chart has a title, labelled axes and a legend, and uses the same colour for the same
thing on every page, so a class can read them from the back of the room.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from chatkit.teaching.compare import WAY_SHORT_LABELS, WAYS
from chatkit.teaching.context_view import ContextView, bar_rows
from chatkit.window_fill import PARTS

PART_COLORS: dict[str, str] = {
    "System prompt": "#7b61ff",
    "Summary": "#f28e2b",
    "History": "#4c78a8",
    "Current turn": "#2ca58d",
    "Reserved for reply": "#e15759",
    "Free": "#d9d9d9",
}
WAY_COLORS: dict[str, str] = {
    "stateless": "#bab0ac",
    "manual": "#4c78a8",
    "chained": "#f28e2b",
}
LABEL_MIN_SHARE = 0.07  # segments narrower than this get no number written on them
# Fill the page's width but keep the height asked for (Streamlit otherwise squeezes the axes
# and legend of a single chart into that height).
FIT_WIDTH = alt.AutoSizeParams(type="fit-x", contains="padding")


def _part_bar(rows: Sequence[dict[str, object]], title: str, subtitle: str) -> alt.LayerChart:
    """One horizontal stacked bar of the window's parts, with the tokens written on wide parts."""
    data = pd.DataFrame(list(rows)).assign(label=title)
    total = max(int(data["end"].max()), 1) if len(data) else 1
    base = alt.Chart(data).encode(y=alt.Y("label:N", axis=None))
    bars = base.mark_bar(stroke="white", strokeWidth=1).encode(
        x=alt.X(
            "start:Q",
            title="Tokens",
            scale=alt.Scale(domain=[0, total], nice=False),
            axis=alt.Axis(format=",d", labelFontSize=13, titleFontSize=14, labelFlush=True),
        ),
        x2="end:Q",
        color=alt.Color(
            "part:N",
            title="Part of the window",
            scale=alt.Scale(domain=list(PARTS), range=[PART_COLORS[p] for p in PARTS]),
            legend=alt.Legend(
                orient="bottom", direction="horizontal", labelFontSize=14, titleFontSize=14
            ),
        ),
        tooltip=[
            alt.Tooltip("part:N", title="Part"),
            alt.Tooltip("tokens:Q", title="Tokens", format=","),
            alt.Tooltip("share:Q", title="Share", format=".1%"),
        ],
    )
    labels = (
        base.transform_filter(alt.datum.share >= LABEL_MIN_SHARE)
        .transform_calculate(middle="(datum.start + datum.end) / 2")
        .mark_text(color="white", fontSize=14, fontWeight="bold", baseline="middle")
        .encode(x="middle:Q", text=alt.Text("tokens:Q", format=","))
    )
    return alt.layer(bars, labels).properties(
        height=48,
        title=alt.TitleParams(title, subtitle=subtitle, anchor="start", fontSize=16),
    )


def context_window_chart(
    whole: Sequence[dict[str, object]],
    zoomed: Sequence[dict[str, object]],
    *,
    whole_title: str,
    whole_subtitle: str,
    zoomed_title: str,
    zoomed_subtitle: str,
) -> alt.VConcatChart:
    """The whole window above, the used part zoomed below, one legend for both.

    Rows come from ``context_view.bar_rows``. Each bar has its own token axis: in a window of
    a million tokens the used part is a sliver, and the zoomed bar is where a class can see it.
    """
    return (
        alt.vconcat(
            _part_bar(whole, whole_title, whole_subtitle),
            _part_bar(zoomed, zoomed_title, zoomed_subtitle),
            spacing=28,
        )
        .resolve_scale(x="independent")
        .configure_view(stroke=None)
    )


def view_chart(
    view: ContextView,
    *,
    whole_subtitle: str = "",
    zoomed_title: str = "Zoomed in: what the next request sends",
    zoomed_subtitle: str = "",
) -> alt.VConcatChart:
    """``context_window_chart`` of a ``ContextView``: the window, then its used part."""
    return context_window_chart(
        bar_rows(view.parts()),
        bar_rows(view.used_parts()),
        whole_title="The whole context window",
        whole_subtitle=whole_subtitle or f"{view.context_window:,} tokens",
        zoomed_title=zoomed_title,
        zoomed_subtitle=zoomed_subtitle
        or f"{view.used:,} tokens sent, {view.dropped_tokens:,} left out",
    )


def per_turn_chart(
    rows: Sequence[dict[str, object]], *, field: str, title: str, axis_title: str
) -> alt.Chart:
    """Grouped bars: one group per turn, one bar per way (rows from ``chart_rows``)."""
    data = pd.DataFrame(list(rows))
    labels = [WAY_SHORT_LABELS[way] for way in WAYS]
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "turn:O",
                title="Turn",
                axis=alt.Axis(labelAngle=0, labelFontSize=13, titleFontSize=14),
            ),
            xOffset=alt.XOffset("way:N", sort=labels),
            y=alt.Y(
                f"{field}:Q",
                title=axis_title,
                axis=alt.Axis(format=",d", labelFontSize=13, titleFontSize=14),
            ),
            color=alt.Color(
                "way:N",
                title="Way",
                sort=labels,
                scale=alt.Scale(domain=labels, range=[WAY_COLORS[way] for way in WAYS]),
                legend=alt.Legend(
                    orient="bottom", direction="horizontal", labelFontSize=13, labelLimit=0
                ),
            ),
            tooltip=[
                alt.Tooltip("turn:O", title="Turn"),
                alt.Tooltip("way:N", title="Way"),
                alt.Tooltip(f"{field}:Q", title=axis_title, format=","),
            ],
        )
        .properties(
            height=300,
            autosize=FIT_WIDTH,
            title=alt.TitleParams(title, anchor="start", fontSize=16),
        )
    )


def size_bars(
    rows: Sequence[dict[str, object]], *, title: str, highlight: str = ""
) -> alt.LayerChart:
    """Horizontal bars of request sizes in bytes, one per API shape; ``highlight`` is the one
    really used. Rows carry ``name`` and ``bytes``."""
    data = pd.DataFrame(list(rows)).assign(
        used=lambda frame: frame["name"].eq(highlight).map({True: "sent", False: "what if"})
    )
    base = alt.Chart(data).encode(
        y=alt.Y("name:N", title=None, sort=None, axis=alt.Axis(labelFontSize=13, labelLimit=420)),
    )
    bars = base.mark_bar(height=28).encode(
        x=alt.X(
            "bytes:Q",
            title="Bytes sent",
            stack=None,
            axis=alt.Axis(format=",d", labelFontSize=13, titleFontSize=14),
        ),
        color=alt.Color(
            "used:N",
            title="This turn",
            scale=alt.Scale(domain=["sent", "what if"], range=["#4c78a8", "#b8c7dc"]),
            legend=alt.Legend(orient="bottom", labelFontSize=13),
        ),
        tooltip=[alt.Tooltip("name:N", title="API"), alt.Tooltip("bytes:Q", format=",")],
    )
    labels = base.mark_text(align="left", dx=6, fontSize=13).encode(
        x="bytes:Q", text=alt.Text("bytes:Q", format=",")
    )
    return alt.layer(bars, labels).properties(
        height=44 * len(data),
        autosize=FIT_WIDTH,
        title=alt.TitleParams(title, anchor="start", fontSize=16),
    )
