"""What a command tells on stderr while it works: its log lines, or a progress bar on a terminal.

Light to import: rich is loaded only when stderr is a terminal.
"""

import logging
import sys
import time
from types import TracebackType
from typing import Any

LIBRARY_LOGGER = "dockerhub_export"
PROGRESS_LOGGER = "dockerhub_export.progress"
# The bar's label per stage. The fetch logs "page N of M" while it lists repositories, then
# "repository N of M" while it lists each repository's tags: the same counters, other units.
STAGE_LABELS = {"page": "fetching pages", "repository": "tags of repositories"}


def progress_bar(description: str) -> Any | None:
    """A started rich progress bar on an interactive stderr (``description`` is its first column's
    template, e.g. "fetching pages" or "{task.description}"), else None."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    )  # fmt: skip
    progress.start()
    return progress


class _StoryHandler(logging.Handler):
    """Our log lines on stderr: a progress bar on a terminal, concise timestamped lines otherwise."""

    def __init__(self, progress: Any | None) -> None:
        super().__init__(logging.INFO)
        self.progress = progress
        self.tasks: dict[str, Any] = {}  # one bar per stage, by label

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.name == PROGRESS_LOGGER:
                self._advance(record)
                return
            message = record.getMessage()
            prefix = "warning: " if record.levelno >= logging.WARNING else ""
            if self.progress is not None:
                self.progress.console.print(f"{prefix}{message}", markup=False, highlight=False)
            else:
                stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
                sys.stderr.write(f"{stamp} {prefix}{message}\n")
        except Exception:  # a broken terminal must not break the export
            self.handleError(record)

    def _advance(self, record: logging.LogRecord) -> None:
        if self.progress is None:
            return
        done = getattr(record, "pages_done", 0)
        total = getattr(record, "pages_total", None)
        label = stage_label(record)
        if label not in self.tasks:
            self.tasks[label] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[label], completed=done, total=total if total else done)


def stage_label(record: logging.LogRecord) -> str:
    """The progress bar's label for a progress record: what its counter counts."""
    unit = str(record.msg).split(" ", 1)[0]
    return STAGE_LABELS.get(unit, "fetching pages")


class console_story:  # noqa: N801 - used like a function: `with console_story(debug):`
    """Context manager: route the library's logs to the terminal for the duration of a run."""

    def __init__(self, debug: bool) -> None:
        self.debug = debug
        self.progress: Any = None
        self.handlers: list[tuple[logging.Logger, logging.Handler]] = []

    def __enter__(self) -> "console_story":
        self.progress = progress_bar("{task.description}")
        handler = _StoryHandler(self.progress)
        for name in (LIBRARY_LOGGER, PROGRESS_LOGGER):
            logger = logging.getLogger(name)
            logger.setLevel(logging.DEBUG if self.debug and name == LIBRARY_LOGGER else logging.INFO)
            logger.addHandler(handler)
            self.handlers.append((logger, handler))
        logging.getLogger(LIBRARY_LOGGER).propagate = self.debug
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for logger, handler in self.handlers:
            logger.removeHandler(handler)
        if self.progress is not None:
            self.progress.stop()
