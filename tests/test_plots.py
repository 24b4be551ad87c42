"""plots: the charts people get (trends --plot, storage --plot, the report's) read well: value ticks that
differ, whole days (or first-of-month days) on a series of nights, legends beside the lines, SVG to put
inline in a page, a write failure as one line."""

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from dockerhub_export import plots
from dockerhub_export.errors import OutputError

NIGHTS = [date(2026, 11, 1) + timedelta(days=i) for i in range(5)]


def test_byte_ticks_close_together_get_the_digits_that_tell_them_apart() -> None:
    ticks = [2_213_400_000_000 + i * 25_000_000 for i in range(8)]
    labels = plots.distinct_size_labels(ticks)
    assert len(set(labels)) == len(labels) and all(label.endswith(" TB") for label in labels)
    assert plots.distinct_size_labels([0, 1e9, 2e9]) == ["0 B", "1 GB", "2 GB"]  # no needless decimals
    assert plots.distinct_labels([0, 100_000, 250_000]) == ["0", "100 k", "250 k"]  # a count: no unit


def _tick_labels(days: list[date]) -> list[str]:
    figure, axes = plots._figure((8, 4))
    x: list = list(days)
    axes.plot(x, list(range(len(days))))
    plots._nights_axis(axes, days)
    figure.canvas.draw()
    return [label.get_text() for label in axes.get_xticklabels() if label.get_text()]


@pytest.mark.parametrize("count", [1, 2, 5, 90, 400])
def test_a_series_of_nights_gets_distinct_whole_day_ticks(count: int) -> None:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(count)]
    labels = _tick_labels(days)
    assert labels and len(set(labels)) == len(labels) and len(labels) <= 12
    assert all(date.fromisoformat(label) for label in labels)  # YYYY-MM-DD: never "12-04 06"


def test_storage_and_pull_plots_are_written_as_png(tmp_path: Path) -> None:
    storage = plots.storage("acme", NIGHTS, [10**12 + i for i in range(5)], tmp_path / "a" / "storage.png")
    pulls = plots.pulls_gained("acme", {"web": (NIGHTS, [1, 5, 9, 20, 40])}, tmp_path / "pulls.png")
    for path in (storage, pulls):
        assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 1_000


def test_a_plot_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="cannot write the plot"):
        plots.storage("acme", NIGHTS, [1, 2, 3, 4, 5], tmp_path / "file" / "storage.png")


def _drawn_labels(figure: Any, axis: str) -> list[str]:
    figure.canvas.draw()
    (axes,) = figure.axes
    labels = axes.get_yticklabels() if axis == "y" else axes.get_xticklabels()
    return [label.get_text() for label in labels if label.get_text()]


def test_a_storage_plot_of_nights_close_in_size_labels_each_y_tick_differently() -> None:
    """The defect users saw: every y tick of `storage --plot` read "2.2 TB"."""
    nights = [date(2026, 11, 1) + timedelta(days=i) for i in range(6)]
    sizes = [2_213_400_000_000 + i * 37_000_000 for i in range(6)]
    figure = plots.nightly_figure("", nights, sizes, unit="B", ylabel="bytes", size=(10, 5))
    labels = _drawn_labels(figure, "y")
    assert (
        len(labels) >= 3
        and len(set(labels)) == len(labels)
        and all(label.endswith(" TB") for label in labels)
    )
    days = _drawn_labels(figure, "x")
    assert days == [night.isoformat() for night in nights]  # one tick a night, no hours


def test_a_year_of_nights_gets_first_of_month_ticks_and_a_narrow_chart_fewer() -> None:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    labels = _tick_labels(days)
    assert 4 <= len(labels) <= 12 and all(label.endswith("-01") for label in labels)
    figure = plots.nightly_figure(
        "", days[:30], list(range(30)), unit="", ylabel="pulls", size=(4.6, 3.9), ticks=5
    )
    assert 2 <= len(_drawn_labels(figure, "x")) <= 6


def test_the_legend_of_the_movers_sits_beside_or_below_the_lines_never_on_them() -> None:
    series = {f"repo-{k}": (NIGHTS, [k, k + 10, k + 50, k + 90, k + 400]) for k in range(10)}
    for legend, size in (("right", (10, 6)), ("below", (4.6, 3.9))):
        figure = plots.pulls_gained_figure("", series, size=size, legend=legend)
        figure.canvas.draw()
        box = figure.legends[0].get_window_extent()
        plot = figure.axes[0].get_window_extent()
        assert box.x0 >= plot.x1 if legend == "right" else box.y1 <= plot.y0, legend


def test_a_chart_as_svg_is_an_inline_element_that_fetches_nothing_and_keeps_its_own_ids() -> None:
    def drawn(name: str) -> str:
        with plots.page_style():
            return plots.svg(
                plots.nightly_figure("", NIGHTS, [1, 2, 3, 4, 5], unit="", ylabel="x", size=(6, 3)), name=name
            )

    first, again, other = drawn("pulls"), drawn("pulls"), drawn("storage")
    assert first.startswith("<svg") and first.rstrip().endswith("</svg>") and first == again
    assert "<?xml" not in first and "<!DOCTYPE" not in first and "<text" not in first  # glyphs as paths
    assert not re.search(r"""(href|src)="(?!#)""", first) and "<image" not in first
    ids = set(re.findall(r'clipPath id="([^"]+)"', first))
    assert ids and not ids & set(re.findall(r'clipPath id="([^"]+)"', other))


def test_the_trends_and_storage_plots_of_real_nights_tick_by_night(tmp_path: Path) -> None:
    """`trends --plot` and `storage --plot` over nights the pipeline stored: date ticks, distinct values."""
    from reportnights import export_nights

    from dockerhub_export import snapshot_queries, store

    nights = export_nights(tmp_path / "exports", f"sqlite:///{tmp_path / 'db.sqlite'}", 4, access=False)
    engine = store.open_engine(nights.database_url, create=False)
    try:
        trend = snapshot_queries.trends(engine, "acme")
        series = snapshot_queries.pull_series(engine, trend, top=5)
        stored = store.tag_night_list(engine, "acme")
    finally:
        engine.dispose()
    expected = [night.isoformat() for night in nights.nights]
    pulls = plots.pulls_gained_figure("", series, size=plots.PNG_SIZE["pulls"])
    storage = plots.nightly_figure(
        "", [n.snapshot_date for n in stored], [n.bytes for n in stored], unit="B", ylabel="bytes",
        size=plots.PNG_SIZE["series"],
    )  # fmt: skip
    for figure in (pulls, storage):
        assert _drawn_labels(figure, "x") == expected
        values = _drawn_labels(figure, "y")
        assert len(set(values)) == len(values)
