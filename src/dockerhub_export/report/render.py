"""A `Report` as one self-contained HTML page: Jinja2 with autoescaping (descriptions and names are
hostile input), the CSS inline, the charts inline SVG from `plots`. Nothing on the page is fetched: no
script, font or image, and its Content-Security-Policy forbids any; only links lead out (to the
repositories' Docker Hub pages).
"""

import os
import tempfile
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup

from .. import __version__, plots
from ..errors import OutputError
from . import words
from .gather import DAYS, build
from .model import Report

if TYPE_CHECKING:
    import jinja2
    import sqlalchemy as sa
    from matplotlib.figure import Figure

WIDE, NARROW = (7.5, 3.4), (4.6, 3.9)  # inches: a desktop's or a print's chart, and a phone's
NARROW_TICKS = 5  # date ticks a phone's chart has room for
HUB = "https://hub.docker.com/r"  # + /<org>/<repository>: a repository's page


@dataclass(frozen=True)
class Chart:
    """A chart drawn twice, for a wide page and a phone's (the page's CSS shows one); made by matplotlib
    here, never from the data's text, so safe to put inline."""

    wide: Markup
    narrow: Markup
    alt: str  # what the chart shows, for who cannot see it


def render(report: Report) -> str:
    """The page of ``report``."""
    template = _environment().get_template("report.html.j2")
    return template.render(report=report, charts=charts(report), version=__version__, hub=HUB)


def page_path(export_dir: Path, org: str, night: date) -> Path:
    """Where a night's report goes by default: beside the night's CSVs."""
    return Path(export_dir) / org / f"report-{night.isoformat()}.html"


def write_night(engine: "sa.Engine", org: str, night: date, export_dir: Path, days: int = DAYS) -> Path:
    """The nightly run's report: ``night`` of ``org`` against ``days`` earlier, at `page_path`."""
    return write(build(engine, org, night, days), page_path(export_dir, org, night))


def write(report: Report, path: Path) -> Path:
    """Write the page of ``report`` at ``path`` atomically (a complete file or the earlier one); a
    failure is one `OutputError` line."""
    text = render(report)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            mask = os.umask(0o022)
            os.umask(mask)
            os.chmod(name, 0o666 & ~mask)  # as any file the user writes: mkstemp makes it 0600
            os.replace(name, path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise OutputError(f"cannot write the report {path}: {exc.strerror or exc}") from None
    return path


@cache
def _environment() -> "jinja2.Environment":
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("dockerhub_export.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        day=words.day,
        short_day=words.short_day,
        when=words.when,
        number=words.number,
        exact=words.exact,
        signed=words.signed,
        flags=words.flags,
    )
    environment.globals.update(days_between=words.days_between, access_change=words.access_change)
    return environment


def charts(report: Report) -> dict[str, Chart]:
    """The page's charts by name: the org's pulls and the top movers' (with two nights or more), its
    storage (with two tag nights or more)."""
    found = {}
    with plots.page_style():
        if report.pulls is not None:
            nights, pulls = [t.night for t in report.pulls.series], [t.pulls for t in report.pulls.series]
            found["pulls"] = _nightly("pulls", nights, pulls, unit="", ylabel="pulls")
            if report.pulls.movers_series:
                series = report.pulls.movers_series
                wide = plots.pulls_gained_figure("", series, size=WIDE)
                narrow = plots.pulls_gained_figure(
                    "", series, size=NARROW, legend="below", ticks=NARROW_TICKS
                )
                found["movers"] = Chart(
                    _svg(wide, "movers"), _svg(narrow, "movers-narrow"), _movers_alt(report)
                )
        if report.storage is not None and len(report.storage.series) > 1:  # one dot tells nothing
            nights = [night for night, _ in report.storage.series]
            sizes = [size for _, size in report.storage.series]
            found["storage"] = _nightly("storage", nights, sizes, unit="B", ylabel="bytes")
    return found


def _nightly(name: str, nights: list[date], values: list[int], *, unit: str, ylabel: str) -> Chart:
    wide = plots.nightly_figure("", nights, values, unit=unit, ylabel=ylabel, size=WIDE)
    narrow = plots.nightly_figure(
        "", nights, values, unit=unit, ylabel=ylabel, size=NARROW, ticks=NARROW_TICKS
    )
    alt = _series_alt(ylabel.capitalize() if unit != "B" else "Storage", nights, values, unit)
    return Chart(_svg(wide, name), _svg(narrow, f"{name}-narrow"), alt)


def _svg(figure: "Figure", name: str) -> Markup:
    return Markup(plots.svg(figure, name=name))


def _series_alt(what: str, nights: list[date], values: list[int], unit: str) -> str:
    """``Pulls from 97.8 M on 1 November 2026 to 99.1 M on 8 November 2026 (8 nights); lowest …``"""
    if not nights:
        return f"{what}: no nights to show."

    def at(k: int) -> str:
        return f"{words.number(values[k], unit)} on {words.day(nights[k])}"

    if len(nights) == 1:
        return f"{what}: {at(0)}, the only night."
    low, high = values.index(min(values)), values.index(max(values))
    return f"{what} from {at(0)} to {at(-1)} ({len(nights)} nights); lowest {at(low)}, highest {at(high)}."


def _movers_alt(report: Report) -> str:
    assert report.pulls is not None
    gained = ", ".join(f"{m.name} {words.signed(m.gained)}" for m in report.pulls.movers)
    return f"Pulls gained since {words.day(report.compared_with)} by the largest movers: {gained}."
