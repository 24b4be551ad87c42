"""Every chart this tool draws, in one place: what `trends --plot` and `storage --plot` write (and what
a report embeds). Plain functions over plain data; the data are read by their query modules.

matplotlib's Agg canvas is used directly (no pyplot, no global backend switch), so drawing works
headless and inside a host application. Nights are dates: the x axis gets date ticks, never hours,
and tick labels are distinct (a byte axis adds digits until they are).
"""

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import humanize
from .errors import OutputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MARKERS_UP_TO = 60  # points on a line get a marker while there are this few


def pulls_gained(title: str, series: Mapping[str, tuple[Sequence[date], Sequence[int]]], path: Path) -> Path:
    """One line per repository: pulls gained since its first day in the window (absolute counts of 10^8
    would flatten any growth)."""
    from matplotlib.ticker import StrMethodFormatter

    figure, axes = _figure((10, 6))
    for name, (days, pulls) in series.items():
        gained = [value - pulls[0] for value in pulls]
        x: list[Any] = list(days)  # matplotlib converts dates itself; its stubs list only numbers
        axes.plot(x, gained, marker="." if len(days) < MARKERS_UP_TO else None, label=name)
    if series:
        axes.legend(loc="upper left", fontsize="small")
    else:
        axes.text(0.5, 0.5, "no pull growth to show", ha="center", va="center", transform=axes.transAxes)
    axes.set_title(title)
    axes.set_ylabel("pulls gained")
    axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    _nights_axis(axes, [day for days, _pulls in series.values() for day in days])
    return save(figure, path)


def storage(title: str, nights: Sequence[date], sizes: Sequence[int], path: Path) -> Path:
    """The bytes stored, night by night."""
    figure, axes = _figure((10, 5))
    x: list[Any] = list(nights)  # matplotlib converts dates itself; its stubs list only numbers
    axes.plot(x, list(sizes), marker="." if len(nights) < MARKERS_UP_TO else None)
    axes.set_title(title)
    axes.set_ylabel("bytes")
    axes.yaxis.set_major_formatter(_distinct_sizes())
    _nights_axis(axes, nights)
    return save(figure, path)


def save(figure: "Figure", path: Path) -> Path:
    """Write ``figure`` as a PNG at ``path`` (its folder made); a failure is one `OutputError` line."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise OutputError(f"cannot write the plot {path}: {exc.strerror or exc}") from None
    return path


def _figure(size: tuple[float, float]) -> "tuple[Figure, Axes]":
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.grid(True, alpha=0.3)
    return figure, axes


def _nights_axis(axes: "Axes", days: Sequence[date]) -> None:
    """Date ticks on whole days, at most about ten, labelled YYYY-MM-DD: a series of nights has no hours."""
    from matplotlib import dates

    untyped: Any = dates  # DayLocator and DateFormatter have no annotations
    span = (max(days) - min(days)).days if days else 0
    axes.xaxis.set_major_locator(untyped.DayLocator(interval=max(1, -(-(span + 1) // 10))))
    axes.xaxis.set_major_formatter(untyped.DateFormatter("%Y-%m-%d"))
    if len(set(days)) == 1:  # one night: a day either side, so its tick is not alone at an edge
        (day,) = set(days)
        limits: Any = (date.fromordinal(day.toordinal() - 1), date.fromordinal(day.toordinal() + 1))
        axes.set_xlim(*limits)
    axes.figure.autofmt_xdate()


def _distinct_sizes() -> Any:
    """A byte-axis formatter whose labels differ: one unit for the axis, as few decimals as keep two
    ticks from reading the same ("2.2 TB" five times over tells nothing)."""
    from matplotlib.ticker import Formatter

    class DistinctSizes(Formatter):
        def __call__(self, value: float, position: int | None = None) -> str:
            return humanize.size(int(value))

        def format_ticks(self, values: Sequence[float]) -> list[str]:
            return distinct_size_labels(values)

    return DistinctSizes()


def distinct_size_labels(values: Sequence[float]) -> list[str]:
    """Labels for byte ticks: the largest tick's decimal unit for all, the fewest decimals (up to 6) that
    tell every tick apart."""
    largest = max((abs(value) for value in values), default=0.0)
    power = 0
    while largest >= 1000 ** (power + 1) and power < len(humanize.PREFIXES) - 1:
        power += 1
    unit = f"{humanize.PREFIXES[power]}B"
    scaled = [value / 1000**power for value in values]
    labels: list[str] = []
    for decimals in range(7):
        labels = [f"{value:,.{decimals}f} {unit}" for value in scaled]
        if len(set(labels)) == len(labels):
            break
    return labels
