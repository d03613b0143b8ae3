"""Debian's chromium, headless, driven by Playwright: the browser the console tests use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from voice_app.config import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"
WAIT_MS = 10_000

requires_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is missing at /usr/bin/chromium (apt-get install chromium)"
)


@contextmanager
def browser_page(profile_dir: Path) -> Iterator:
    """A page in a fresh profile (no cookies or cache from anything before); `page.problems` collects script
    errors, so a test can require that there were none."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile_dir,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 860},
            locale="en-GB",
            timezone_id="Europe/Berlin",
            accept_downloads=True,
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.problems = []
        page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
        page.on("pageerror", lambda error: page.problems.append(str(error)))
        try:
            yield page
        finally:
            context.close()
