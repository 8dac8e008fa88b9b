"""Headless Chromium (Debian's package, driven by Playwright) and the few UI gestures the tests share.

Playwright's own browser download is not used: `make ui-deps` installs Debian's `chromium`, and the tests
point Playwright at it. The flags keep the browser off the network except for the local server.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, Locator, Page, ViewportSize, sync_playwright

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
LAPTOP_SCREEN: ViewportSize = {"width": 1600, "height": 1000}
ACTION_TIMEOUT_MS = 60_000
RUN_PAGE = re.compile(r"/runs/(?P<run_id>[0-9a-f]{8}-[0-9a-f-]{27})")


def chromium_executable() -> str | None:
    return shutil.which("chromium")


@contextmanager
def chromium(executable: str, profile: Path, base_url: str) -> Iterator[BrowserContext]:
    """A browser with a fresh profile whose relative URLs point at the server under test."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            base_url=base_url,
            viewport=LAPTOP_SCREEN,
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def type_run_config(page: Page, launchpad: Page | Locator, yaml_text: str) -> None:
    """Replace the Launchpad editor's YAML with `yaml_text`, as a paste would (no auto-indent)."""
    launchpad.locator(".CodeMirror").first.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(yaml_text)


def run_id_of(page: Page) -> str:
    """Launching from the Launchpad lands on the new run's page; its id is in the URL."""
    page.wait_for_url(RUN_PAGE)
    found = RUN_PAGE.search(page.url)
    assert found is not None
    return found["run_id"]
