"""The charts' geometry: axes with round ticks, columns and bars in proportion, labels only where they fit, no
data drawn apart from zero."""

from __future__ import annotations

from itertools import pairwise

import pytest

from voice_app.reports.charts import CHAR_WIDTH, MAX_COLUMN_WIDTH, bar_chart, column_chart, nice_ceiling


@pytest.mark.parametrize(
    "value, whole, expected",
    [
        (0, False, (1, 1)),
        (1, True, (1, 1)),
        (3, True, (3, 1)),
        (7, True, (8, 2)),
        (12, True, (15, 5)),
        (47, True, (50, 10)),
        (101, True, (125, 25)),
        (2700, False, (3000, 1000)),
        (0.3, False, (0.3, 0.1)),
    ],
)
def test_axes_end_on_a_round_number_in_at_most_five_steps(value, whole, expected):
    top, step = nice_ceiling(value, whole=whole)
    assert (top, step) == pytest.approx(expected)
    assert top >= value and round(top / step) <= 5


def columns(values, markers=None, **changes):
    arguments = dict(
        id="c",
        title="T",
        description="D",
        value_axis_label="V",
        category_axis_label="K",
        categories=[f"{n} Mar" for n in range(1, len(values) + 1)],
        titles=[f"day {n}" for n in range(1, len(values) + 1)],
        values=values,
        value_label=lambda value: f"{value:g}",
        markers=markers,
    )
    arguments.update(changes)
    return column_chart(**arguments)


def test_columns_stand_on_the_axis_in_proportion_and_no_data_is_not_zero():
    chart = columns([4, 0, None, 2], whole=True)
    heights = [column.height for column in chart.columns]
    assert heights[0] == pytest.approx(2 * heights[3]) and heights[1] == 0 and heights[2] == 0
    assert all(column.y + column.height == pytest.approx(chart.bottom) for column in chart.columns)
    assert [column.has_value for column in chart.columns] == [True, True, False, True]
    assert [column.value_label for column in chart.columns] == ["4", "0", None, "2"]
    assert [tick.label for tick in chart.value_ticks] == ["0", "1", "2", "3", "4"]
    assert chart.columns[0].y == pytest.approx(chart.top)  # the highest column reaches the top tick
    assert all(column.width <= MAX_COLUMN_WIDTH for column in chart.columns)


def test_shares_use_a_fixed_axis_and_markers_sit_above_their_column():
    chart = columns([0.5, 1.0], top=1.0)
    assert [tick.label for tick in chart.value_ticks] == ["0", "0.25", "0.5", "0.75", "1"]
    chart = columns([1200, 600], markers=[2700, None])
    first, second = chart.columns
    assert first.marker_y < first.y and second.marker_y is None
    assert first.label_y < first.marker_y, "the value is written above the marker, not through it"
    assert chart.value_ticks[-1].label == "3000"


def test_long_ranges_widen_the_chart_and_thin_out_labels_that_would_collide():
    chart = columns([1] * 31, value_label=lambda value: "100%")
    assert chart.width == 64 + 16 + 31 * 34
    assert all(column.value_label == "100%" for column in chart.columns), "a month of shares keeps its values"
    chart = columns(list(range(45)), value_label=lambda value: f"{value:g} calls")
    assert chart.width == 64 + 16 + 45 * 34
    assert all(column.value_label is None for column in chart.columns), "'12 calls' does not fit over 34 px"
    positions = [tick.position for tick in chart.category_ticks]
    assert len(positions) < 45 and min(b - a for a, b in pairwise(positions)) >= 6 * CHAR_WIDTH


def test_mismatched_or_empty_input_is_refused():
    with pytest.raises(ValueError):
        columns([1, 2], titles=["only one"])
    with pytest.raises(ValueError):
        columns([1, 2], markers=[1])
    with pytest.raises(ValueError):
        columns([], categories=[], titles=[])
    with pytest.raises(ValueError):
        bar_chart(
            id="b", title="T", description="D", value_axis_label="V", labels=[], values=[], titles=[], value_label=str
        )


def test_bars_grow_from_their_labels_in_proportion_in_the_given_order():
    chart = bar_chart(
        id="b",
        title="T",
        description="D",
        value_axis_label="Transfers",
        labels=["Caller asked for a person", "Sensitive topic"],
        values=[6, 2],
        titles=["a", "b"],
        value_label=lambda value: str(round(value)),
    )
    first, second = chart.bars
    assert first.width == pytest.approx(3 * second.width)
    assert first.y < second.y and (first.label, first.value_label) == ("Caller asked for a person", "6")
    assert chart.left > len("Caller asked for a person") * CHAR_WIDTH, "room for the longest label"
    assert [tick.label for tick in chart.value_ticks] == ["0", "2", "4", "6"]
