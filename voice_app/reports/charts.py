"""The geometry of the dashboard's charts: plain numbers for an SVG template (`templates/dashboard/_charts.html`)
to draw, so that the page needs no script, no external file and no charting library, and the layout can be
tested without a browser.

Two shapes: columns over time (one per day, week or month, optionally with a marker line per column, used for
the 90th percentile of latency), and horizontal bars for categories (transfer reasons). Every column and bar
carries a value label when it fits and a title (the browser's tooltip); the template adds the chart's title and
description for screen readers, and the page a table of the same figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CHAR_WIDTH = 7.2  # average width of a character at the charts' 12 px labels, for deciding what fits
MAX_COLUMN_WIDTH = 56  # wider columns read as blocks, not as bars


@dataclass(frozen=True)
class Tick:
    position: float  # y for value ticks of a column chart, x for category labels and bar chart value ticks
    label: str


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    title: str  # what the column means in words, e.g. "Fri 27 Mar 2026: 3 calls"
    value_label: str | None  # drawn above the column, or None when it would not fit
    label_y: float
    marker_y: float | None = None  # a second value drawn as a line across the column
    has_value: bool = True  # False: no data for this period (drawn as a dash, not as zero)

    @property
    def center(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class ColumnChart:
    id: str
    title: str
    description: str
    value_axis_label: str
    category_axis_label: str
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    columns: list[Column]
    value_ticks: list[Tick]
    category_ticks: list[Tick]
    marker_legend: str | None = None
    column_legend: str | None = None


@dataclass(frozen=True)
class Bar:
    y: float
    height: float
    width: float
    label: str
    value_label: str
    title: str


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    value_axis_label: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    bars: list[Bar]
    value_ticks: list[Tick]


def nice_ceiling(value: float, *, whole: bool = False) -> tuple[float, float]:
    """A round top for an axis at or above `value`, and the step between its ticks (at most five steps);
    `whole`: steps of whole numbers, for counts."""
    if value <= 0:
        return 1.0, 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step_factor in (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10):
        step = step_factor * magnitude
        if whole and step != int(step):
            continue
        if math.ceil(value / step - 1e-9) <= 5:
            top = step * math.ceil(value / step - 1e-9)
            return top, step
    raise AssertionError("unreachable: a step of ten magnitudes always fits")


def _ticks(top: float, step: float, scale: Callable[[float], float], fmt: Callable[[float], str]) -> list[Tick]:
    count = round(top / step)
    return [Tick(scale(step * index), fmt(step * index)) for index in range(count + 1)]


def column_chart(
    *,
    id: str,
    title: str,
    description: str,
    value_axis_label: str,
    category_axis_label: str,
    categories: Sequence[str],
    titles: Sequence[str],
    values: Sequence[float | None],
    value_label: Callable[[float], str],
    tick_label: Callable[[float], str] | None = None,
    markers: Sequence[float | None] | None = None,
    top: float | None = None,
    whole: bool = False,
    min_slot: int = 34,  # room for "100%" over a column
    min_width: int = 960,
    height: int = 300,
    column_legend: str | None = None,
    marker_legend: str | None = None,
) -> ColumnChart:
    """Columns for `values` (None: no data) over `categories`; `top` fixes the axis (1.0 for shares)."""
    if not len(categories) == len(titles) == len(values) or (markers is not None and len(markers) != len(values)):
        raise ValueError("categories, titles, values (and markers) must be of one length")
    if not categories:
        raise ValueError("a chart needs at least one category")
    left, right_margin, plot_top, bottom_margin = 64, 16, 24, 56
    count = len(categories)
    width = max(min_width, left + right_margin + count * min_slot)
    plot_width = width - left - right_margin
    bottom = height - bottom_margin
    slot = plot_width / count
    highest = max([v for v in values if v is not None] + [m for m in (markers or []) if m is not None] + [0])
    if top is None:
        top, step = nice_ceiling(highest, whole=whole)
    else:
        step = top / 4
    tick_label = tick_label or value_label

    def y_of(value: float) -> float:
        return bottom - (bottom - plot_top) * (value / top)

    columns = []
    for index, (value, column_title) in enumerate(zip(values, titles, strict=True)):
        marker = markers[index] if markers is not None else None
        bar_width = min(MAX_COLUMN_WIDTH, max(4.0, slot * 0.7))
        x = left + slot * index + (slot - bar_width) / 2
        if value is None:
            columns.append(Column(x, bottom, bar_width, 0, column_title, None, bottom - 4, None, has_value=False))
            continue
        y = y_of(value)
        text = value_label(value)
        fits = len(text) * CHAR_WIDTH <= slot - 2
        label_top = min(y, y_of(marker)) if marker is not None else y
        columns.append(
            Column(
                x,
                y,
                bar_width,
                bottom - y,
                column_title,
                text if fits else None,
                label_top - 4,
                y_of(marker) if marker is not None else None,
            )
        )

    every = max(1, math.ceil((max(len(c) for c in categories) * CHAR_WIDTH + 8) / slot))
    category_ticks = [
        Tick(left + slot * index + slot / 2, category)
        for index, category in enumerate(categories)
        if index % every == 0
    ]
    return ColumnChart(
        id=id,
        title=title,
        description=description,
        value_axis_label=value_axis_label,
        category_axis_label=category_axis_label,
        width=width,
        height=height,
        left=left,
        top=plot_top,
        right=width - right_margin,
        bottom=bottom,
        columns=columns,
        value_ticks=_ticks(top, step, y_of, tick_label),
        category_ticks=category_ticks,
        column_legend=column_legend,
        marker_legend=marker_legend,
    )


def bar_chart(
    *,
    id: str,
    title: str,
    description: str,
    value_axis_label: str,
    labels: Sequence[str],
    values: Sequence[int],
    value_label: Callable[[float], str],
    titles: Sequence[str],
    width: int = 960,
    bar_height: int = 28,
) -> BarChart:
    """Horizontal bars, one per label, longest label on the left, values at the bars' ends."""
    if not len(labels) == len(values) == len(titles):
        raise ValueError("labels, values and titles must be of one length")
    if not labels:
        raise ValueError("a chart needs at least one bar")
    left = min(300, int(max(len(label) for label in labels) * CHAR_WIDTH * 1.1) + 16)
    right_margin = 48  # room for the value after the longest bar
    top, gap = 12, 8
    bottom = top + len(labels) * (bar_height + gap)
    height = bottom + 44
    axis_top, step = nice_ceiling(max(values), whole=True)
    plot_width = width - left - right_margin

    def x_of(value: float) -> float:
        return left + plot_width * (value / axis_top)

    bars = [
        Bar(
            top + index * (bar_height + gap) + gap / 2,
            bar_height,
            x_of(value) - left,
            label,
            value_label(value),
            bar_title,
        )
        for index, (label, value, bar_title) in enumerate(zip(labels, values, titles, strict=True))
    ]
    return BarChart(
        id=id,
        title=title,
        description=description,
        value_axis_label=value_axis_label,
        width=width,
        height=height,
        left=left,
        right=width - right_margin,
        top=top,
        bottom=bottom,
        bars=bars,
        value_ticks=_ticks(axis_top, step, x_of, value_label),
    )
