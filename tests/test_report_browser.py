"""The report in a real browser: headless Chromium (Debian's ``chromium``, driven by Playwright; no
browser is ever downloaded) opens the page from a file with every request but the page itself blocked.
It renders with no console error, asks for nothing, and its headline figures are the query commands'.
Screenshots at desktop and phone width and a PDF print are kept under tests/artifacts/.

Outside CI a machine without Chromium (or Playwright) skips these with the reason; under CI they fail.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reportnights import HOSTILE, ORG, Nights, export_nights
from typer.testing import CliRunner

from dockerhub_export import humanize

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip
ARTIFACTS = Path(__file__).with_name("artifacts")
DESKTOP, PHONE = 1280, 390


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI is set but {reason}: the report's browser tests must run in CI")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is absent (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A page whose every request but ``allowed`` is aborted (and recorded), with its console errors."""

    def __init__(self, browser: Any, allowed: str, width: int) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []

        def route(handle: Any) -> None:
            if handle.request.url == allowed:
                handle.continue_()
            else:
                self.blocked.append(handle.request.url)
                handle.abort()

        self.context.route("**/*", route)
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Nights:
    folder = tmp_path_factory.mktemp("browser")
    return export_nights(folder / "exports", f"sqlite:///{folder / 'snapshots.db'}", 2)


@pytest.fixture(scope="module")
def page_path(nights: Nights) -> Path:
    """The page as ``dockerhub-export report`` writes it (its path is what it prints)."""
    from dockerhub_export.cli import app

    result = CliRunner().invoke(app, ["report", *nights.args()])
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip())


def _artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n", encoding="utf-8")  # kept out of git, the folder too
    return ARTIFACTS


def test_the_watch_catches_a_request_a_page_makes(browser: Any) -> None:
    """The check below could fail: a page that asks for an image (on loopback's discard port) is seen."""
    watched = Watched(browser, "about:blank", DESKTOP)
    try:
        watched.page.set_content('<img src="http://127.0.0.1:9/probe.png" alt="">')
        assert watched.blocked == ["http://127.0.0.1:9/probe.png"]
    finally:
        watched.close()


def test_the_page_renders_fetches_nothing_and_its_figures_are_the_queries(
    browser: Any, nights: Nights, page_path: Path
) -> None:
    from reportnights import expected_figures

    url = page_path.as_uri()
    watched = Watched(browser, url, DESKTOP)
    try:
        watched.page.goto(url, wait_until="load")
        assert watched.requests == [url] and watched.blocked == []
        assert watched.errors == [] and watched.dialogs == []
        shown = watched.page.eval_on_selector_all(
            "[data-key]",
            "items => items.map(i => [i.dataset.key, i.dataset.value, i.dataset.before,"
            " i.querySelector('.value').textContent.trim()])",
        )
        expected = expected_figures(nights, nights.nights[-1])
        units = {"storage": "B", "reclaimable": "B"}
        assert {key: (int(value), int(before)) for key, value, before, _text in shown} == expected
        for key, value, _before, text in shown:
            unit = units.get(key, "")
            assert text == (humanize.size(int(value)) if unit else humanize.count(int(value))), key
        assert watched.page.get_by_text(HOSTILE, exact=True).count() > 0  # the description, as text
        assert watched.page.title().startswith(f"{ORG}: Docker Hub report for ")
        folder = _artifacts()
        watched.page.screenshot(path=str(folder / "report-desktop.png"), full_page=True)
        watched.page.emulate_media(media="print")
        watched.page.pdf(path=str(folder / "report.pdf"), format="A4", print_background=True)
        print(f"\nreport artifacts: {folder / 'report-desktop.png'}, {folder / 'report.pdf'}")
    finally:
        watched.close()
    assert (folder / "report.pdf").read_bytes().startswith(b"%PDF")


def test_at_phone_width_only_tables_scroll_and_the_charts_are_the_narrow_ones(
    browser: Any, page_path: Path
) -> None:
    url = page_path.as_uri()
    watched = Watched(browser, url, PHONE)
    try:
        watched.page.goto(url, wait_until="load")
        assert watched.errors == [] and watched.blocked == []
        assert watched.page.evaluate("document.documentElement.scrollWidth") <= PHONE  # no sideways page
        wide = watched.page.evaluate("[...document.querySelectorAll('.svg.wide')].map(e => e.offsetWidth)")
        narrow = watched.page.evaluate(
            "[...document.querySelectorAll('.svg.narrow')].map(e => e.offsetWidth)"
        )
        assert wide and set(wide) == {0} and narrow and all(0 < width <= PHONE for width in narrow)
        scrolling = watched.page.evaluate(
            "[...document.querySelectorAll('.scroll')].filter(e => e.scrollWidth > e.clientWidth).length"
        )
        assert scrolling > 0  # the wide tables scroll inside their wrapper
        path = _artifacts() / "report-phone.png"
        watched.page.screenshot(path=str(path), full_page=True)
        print(f"\nreport artifact: {path}")
    finally:
        watched.close()
