"""Every chart this tool draws, in one place: the PNGs of `trends --plot` and `storage --plot`, and the
inline SVGs of the HTML report. Plain functions over plain data; the data are read by their query modules.

Each chart is first a `Figure` (``*_figure``), then a PNG file (`save`) or SVG text (`svg`). matplotlib's
Agg canvas is used directly (no pyplot, no global backend switch), so drawing works headless and inside a
host application. Nights are dates: the x axis gets whole-day (or, over months, first-of-month) ticks,
never hours, and a value axis gets labels that differ (digits are added until they do).
"""

import io
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
MAX_TICKS = 10  # date ticks on an axis, about
MONTH_TICKS_FROM = 120  # days spanned: past this, ticks fall on the first of a month
PNG_SIZE = {"pulls": (10.0, 6.0), "series": (10.0, 5.0)}  # inches, at 100 dpi


def pulls_gained(title: str, series: Mapping[str, tuple[Sequence[date], Sequence[int]]], path: Path) -> Path:
    """`pulls_gained_figure` as a PNG at ``path``."""
    return save(pulls_gained_figure(title, series, size=PNG_SIZE["pulls"]), path)


def pulls_gained_figure(
    title: str,
    series: Mapping[str, tuple[Sequence[date], Sequence[int]]],
    *,
    size: tuple[float, float],
    legend: str = "right",
    ticks: int = MAX_TICKS,
) -> "Figure":
    """One line per repository: pulls gained since its first day in the window (absolute counts of 10^8
    would flatten any growth). The legend sits outside the axes, where it hides no line: on the
    ``right``, or ``below`` (a narrow chart). An empty ``title`` leaves the title to the page around it."""
    figure, axes = _figure(size)
    for name, (days, pulls) in series.items():
        gained = [value - pulls[0] for value in pulls]
        x: list[Any] = list(days)  # matplotlib converts dates itself; its stubs list only numbers
        axes.plot(x, gained, marker="." if len(days) < MARKERS_UP_TO else None, label=name)
    if series and legend == "below":
        figure.legend(loc="outside lower center", ncols=2, fontsize="small")
    elif series:
        figure.legend(loc="outside right upper", fontsize="small")
    else:
        axes.text(0.5, 0.5, "no pull growth to show", ha="center", va="center", transform=axes.transAxes)
    if title:
        axes.set_title(title)
    axes.set_ylabel("pulls gained")
    axes.yaxis.set_major_formatter(_distinct(""))
    _nights_axis(axes, [day for days, _pulls in series.values() for day in days], ticks)
    return figure


def storage(title: str, nights: Sequence[date], sizes: Sequence[int], path: Path) -> Path:
    """The bytes stored, night by night, as a PNG at ``path``."""
    return save(nightly_figure(title, nights, sizes, unit="B", ylabel="bytes", size=PNG_SIZE["series"]), path)


def nightly_figure(
    title: str,
    nights: Sequence[date],
    values: Sequence[int],
    *,
    unit: str,
    ylabel: str,
    size: tuple[float, float],
    ticks: int = MAX_TICKS,
) -> "Figure":
    """One value night by night (the org's bytes stored, its pulls): ``unit`` "B" for bytes, "" for a
    count. An empty ``title`` leaves the title to the page around the chart."""
    figure, axes = _figure(size)
    x: list[Any] = list(nights)  # matplotlib converts dates itself; its stubs list only numbers
    axes.plot(x, list(values), marker="." if len(nights) < MARKERS_UP_TO else None)
    if title:
        axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.yaxis.set_major_formatter(_distinct(unit))
    _nights_axis(axes, nights, ticks)
    return figure


def save(figure: "Figure", path: Path) -> Path:
    """Write ``figure`` as a PNG at ``path`` (its folder made); a failure is one `OutputError` line."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise OutputError(f"cannot write the plot {path}: {exc.strerror or exc}") from None
    return path


def svg(figure: "Figure", *, name: str) -> str:
    """``figure`` as an ``<svg>`` element to put inline in a page: no XML prolog, no date, text drawn as
    paths (nothing for the page to fetch, the same glyphs everywhere). ``name`` seeds the ids matplotlib
    makes, so that two charts of one page never share one, and the same chart is the same text."""
    from matplotlib import rc_context

    buffer = io.StringIO()
    with rc_context({"svg.hashsalt": name, "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def page_style() -> Any:
    """The style of a chart in a page, where it is drawn smaller than a PNG: larger text (a context
    manager, around both drawing the figure and `svg`)."""
    from matplotlib import rc_context

    return rc_context({"font.size": 12, "axes.titlesize": 12})


def _figure(size: tuple[float, float]) -> "tuple[Figure, Axes]":
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.grid(True, alpha=0.3)
    return figure, axes


def _nights_axis(axes: "Axes", days: Sequence[date], ticks: int = MAX_TICKS) -> None:
    """Date ticks labelled YYYY-MM-DD, about ``ticks`` at most: every N days, or over months the first of
    every N months. A series of nights has no hours."""
    from matplotlib import dates

    untyped: Any = dates  # the locators and DateFormatter have no annotations
    span = (max(days) - min(days)).days if days else 0
    if span > MONTH_TICKS_FROM:
        months = span // 30 + 1
        locator = untyped.MonthLocator(interval=-(-months // ticks))
    else:
        locator = untyped.DayLocator(interval=max(1, -(-(span + 1) // ticks)))
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(untyped.DateFormatter("%Y-%m-%d"))
    if len(set(days)) == 1:  # one night: a day either side, so its tick is not alone at an edge
        (day,) = set(days)
        limits: Any = (date.fromordinal(day.toordinal() - 1), date.fromordinal(day.toordinal() + 1))
        axes.set_xlim(*limits)
    axes.figure.autofmt_xdate()


def _distinct(unit: str) -> Any:
    """A value-axis formatter whose labels differ: one prefix for the axis, as few decimals as keep two
    ticks from reading the same ("2.2 TB" five times over tells nothing)."""
    from matplotlib.ticker import Formatter

    class Distinct(Formatter):
        def __call__(self, value: float, position: int | None = None) -> str:
            return humanize.count(int(value), unit)

        def format_ticks(self, values: Sequence[float]) -> list[str]:
            return distinct_labels(values, unit)

    return Distinct()


def distinct_size_labels(values: Sequence[float]) -> list[str]:
    """Labels for byte ticks (see `distinct_labels`)."""
    return distinct_labels(values, "B")


def distinct_labels(values: Sequence[float], unit: str = "") -> list[str]:
    """Labels for ticks: the largest tick's decimal prefix for all, the fewest decimals (up to 6) that
    tell every tick apart; ``unit`` after the prefix ("B": ``1.5 GB``; "": ``1.5 M``, ``250``)."""
    largest = max((abs(value) for value in values), default=0.0)
    power = 0
    while largest >= 1000 ** (power + 1) and power < len(humanize.PREFIXES) - 1:
        power += 1
    suffix = f"{humanize.PREFIXES[power]}{unit}"
    scaled = [value / 1000**power for value in values]
    labels: list[str] = []
    zero = f"0 {unit}".rstrip()  # not "0 k" nor "0 GB": nothing has no prefix
    for decimals in range(7):
        labels = [zero if value == 0 else f"{value:,.{decimals}f} {suffix}".rstrip() for value in scaled]
        if len(set(labels)) == len(labels):
            break
    return labels
