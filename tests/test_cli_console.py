"""console: the progress bar a run shows on a terminal, labelled by what each stage counts."""

import os
import pty
import subprocess
import sys

SCRIPT = """
import logging
from dockerhub_export.cli.console import console_story

log = logging.getLogger("dockerhub_export.progress")
with console_story(False) as story:
    for done in range(1, 4):  # as fetch logs the repository listing's pages
        log.info("page %d of %s", done, 3, extra={"pages_done": done, "pages_total": 3})
    for done in range(1, 6):  # as fetch logs the tag stage: one count per repository
        log.info("repository %d of %d", done, 5, extra={"pages_done": done, "pages_total": 5})
    tasks = [(task.description, task.completed, task.total) for task in story.progress.tasks]
print(tasks)  # after the bar: while it runs, rich sends stdout to the terminal too
"""


def test_the_tag_stage_counts_repositories_under_its_own_label_not_fetching_pages() -> None:
    """A real terminal on stderr (a pseudo-terminal), as a user running `run --tags` sees it."""
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=60,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "100"},
        )
        os.close(follower)
        screen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(leader)
    assert result.returncode == 0, screen.decode(errors="replace")
    assert result.stdout.strip() == "[('fetching pages', 3, 3), ('tags of repositories', 5, 5)]"
    shown = screen.decode(errors="replace")
    assert "tags of repositories" in shown and "5/5" in shown
