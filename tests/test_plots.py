"""plots: the charts people get (trends --plot, storage --plot) read well: byte ticks that differ, whole
days on a series of nights, a write failure as one line."""

from datetime import date, timedelta
from pathlib import Path

import pytest

from dockerhub_export import plots
from dockerhub_export.errors import OutputError

NIGHTS = [date(2026, 11, 1) + timedelta(days=i) for i in range(5)]


def test_byte_ticks_close_together_get_the_digits_that_tell_them_apart() -> None:
    ticks = [2_213_400_000_000 + i * 25_000_000 for i in range(8)]
    labels = plots.distinct_size_labels(ticks)
    assert len(set(labels)) == len(labels) and all(label.endswith(" TB") for label in labels)
    assert plots.distinct_size_labels([0, 1e9, 2e9]) == ["0 GB", "1 GB", "2 GB"]  # no needless decimals


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
