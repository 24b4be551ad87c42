"""The report people look at: one self-contained HTML page per org and night (``dockerhub-export
report``). `build` gathers the night from the snapshot database into a typed `Report` (`model`), from
the same queries as the command line's; `render` makes the page, `write` writes it, `write_night` is
the nightly run's stage (both at `page_path` by default).

No Prefect: the nightly flow calls these like the command line does.
"""

from .gather import DAYS, build, choose_night
from .model import Report
from .render import page_path, render, write, write_night

__all__ = ["DAYS", "Report", "build", "choose_night", "page_path", "render", "write", "write_night"]
